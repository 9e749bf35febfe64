{{/* Chart name, overridable. */}}
{{- define "asrfleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object-name prefix: RELEASE-asrfleet, or RELEASE when it already contains the name. */}}
{{- define "asrfleet.fullname" -}}
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

{{/* Labels every object carries. */}}
{{- define "asrfleet.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "asrfleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: asrfleet
{{- end }}

{{/* Labels selecting the operator pods. */}}
{{- define "asrfleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "asrfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "asrfleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "asrfleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when operator replicas coordinate through kopf peering. */}}
{{- define "asrfleet.peering" -}}
{{- if or .Values.peering.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* Namespaces the namespaced RBAC scope grants: the watched ones, or the release's. */}}
{{- define "asrfleet.watchNamespaces" -}}
{{- if .Values.watch.namespaces }}
{{- join "," .Values.watch.namespaces }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "asrfleet.operatorImage" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "asrfleet.inferenceImage" -}}
{{- printf "%s:%s" .Values.inference.image.repository (default .Chart.AppVersion .Values.inference.image.tag) }}
{{- end }}

{{/* The inference image's PyTorch build (model.engine: torch): torchTag, else the tag + "-torch". */}}
{{- define "asrfleet.torchInferenceImage" -}}
{{- $tag := printf "%s-torch" (default .Chart.AppVersion .Values.inference.image.tag) }}
{{- printf "%s:%s" .Values.inference.image.repository (default $tag .Values.inference.image.torchTag) }}
{{- end }}

{{/* The console: object names, pod labels, and the namespaces it shows. */}}
{{- define "asrfleet.consoleName" -}}
{{- printf "%s-console" (include "asrfleet.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "asrfleet.consoleSelectorLabels" -}}
app.kubernetes.io/name: {{ include "asrfleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: console
{{- end }}

{{- define "asrfleet.consoleLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "asrfleet.consoleSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: asrfleet
{{- end }}

{{/* Comma-separated; empty means every namespace (then the RBAC is cluster-wide). */}}
{{- define "asrfleet.consoleNamespaces" -}}
{{- if .Values.console.namespaces }}
{{- join "," .Values.console.namespaces }}
{{- else if eq .Values.rbac.scope "namespaced" }}
{{- include "asrfleet.watchNamespaces" . }}
{{- else }}
{{- join "," .Values.watch.namespaces }}
{{- end }}
{{- end }}

{{- define "asrfleet.consoleSecretName" -}}
{{- default (include "asrfleet.consoleName" .) .Values.console.token.existingSecret }}
{{- end }}
