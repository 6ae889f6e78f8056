{{/*
The chart name, or nameOverride.
*/}}
{{- define "rho.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The prefix of every object name. The release "restore-hook-operator" gives "restore-hook-operator", so the
objects carry the same names as config/default's (namePrefix "restore-hook-operator-").
*/}}
{{- define "rho.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The name of one object: the fullname, shortened when needed so that with "-" and the suffix it stays
within 63 characters (a Service name is a DNS label). Called as (list . "suffix").
*/}}
{{- define "rho.objname" -}}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "rho.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/*
The labels of every object.
*/}}
{{- define "rho.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rho.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The labels that select the manager's pods (the Deployment, the webhook and metrics Services).
*/}}
{{- define "rho.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rho.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rho.podSelectorLabels" -}}
{{ include "rho.selectorLabels" . }}
control-plane: controller-manager
{{- end }}

{{- define "rho.serviceAccountName" -}}
{{ include "rho.objname" (list . "controller-manager") }}
{{- end }}

{{- define "rho.webhookServiceName" -}}
{{ include "rho.objname" (list . "webhook-service") }}
{{- end }}

{{/*
The Secret holding the webhook server's certificate: written by cert-manager or by this chart.
*/}}
{{- define "rho.webhookCertSecret" -}}
{{ include "rho.objname" (list . "webhook-server-cert") }}
{{- end }}

{{- define "rho.certificateName" -}}
{{ include "rho.objname" (list . "serving-cert") }}
{{- end }}

{{- define "rho.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express; each failure names the values involved.
*/}}
{{- define "rho.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicas=%d needs leaderElection.enabled=true: without leader election every replica would run the same hooks" (int .Values.replicas)) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled=true needs metrics.enabled=true: there is no metrics Service to scrape" }}
{{- end }}
{{- if and .Values.certManager.issuerRef (not .Values.certManager.enabled) }}
{{- fail "certManager.issuerRef is set but certManager.enabled=false: the issuer would not be used" }}
{{- end }}
{{- end }}
