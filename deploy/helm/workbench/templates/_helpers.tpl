{{/* The chart's name, and the release's full name. */}}
{{- define "workbench.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "workbench.fullname" -}}
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

{{- define "workbench.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "workbench.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "workbench.selectorLabels" -}}
app.kubernetes.io/name: {{ include "workbench.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "workbench.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "workbench.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "workbench.secretName" -}}
{{- default (include "workbench.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "workbench.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The route groups and the paths under /api/v1 that belong to each: the same table as
crates/http/src/groups.rs (a unit test there compares them).
*/}}
{{- define "workbench.routeGroups" -}}
auth: [auth, tokens]
users: [users, notifications]
admin: [admin]
tasks: [tasks, tags]
products: [categories, products, user-products]
files: [files]
projects: [projects, invites]
trades: [market, trades]
radio: [radio]
integrations: [weather, crypto, translate]
search: [search, searches]
webhooks: [webhooks]
realtime: [ws, chat, system]
{{- end }}

{{/*
The enabled roles, each merged over roleDefaults, as YAML: name -> settings.
*/}}
{{- define "workbench.roles" -}}
{{- $out := dict }}
{{- range $name, $role := .Values.roles }}
{{- $merged := mergeOverwrite (deepCopy $.Values.roleDefaults) (default dict $role) }}
{{- if $merged.enabled }}
{{- $_ := set $out $name $merged }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}
