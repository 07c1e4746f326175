{{/*
Names and values shared by the chart's templates.
*/}}

{{/* DAEMONSET_NAME: configMap.daemonsetName, else deploymentName (the Go chart's rule). */}}
{{- define "kip.daemonsetName" -}}
{{- default .Values.deploymentName .Values.configMap.daemonsetName -}}
{{- end -}}

{{/* The puller's image; the tag defaults to the chart's appVersion. */}}
{{- define "kip.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/* KIP_IMAGE: the image the caching pods take kip-sleep from; the puller's own by default. */}}
{{- define "kip.kipImage" -}}
{{- default (include "kip.image" .) .Values.configMap.kipImage -}}
{{- end -}}

{{/*
The leader Lease, named explicitly rather than derived at start from DAEMONSET_NAME, so that
the Role can pin it even if the ConfigMap is edited by hand.
*/}}
{{- define "kip.leaseName" -}}
{{- printf "kip-%s" (include "kip.daemonsetName" .) | trunc 253 -}}
{{- end -}}

{{/*
A setting the puller reads as JSON, from (list VALUE DEFAULT): a string is taken as written
(the Go chart's form, e.g. "{}"), a map or list is encoded, and null gives DEFAULT.
*/}}
{{- define "kip.json" -}}
{{- $value := index . 0 -}}
{{- if kindIs "invalid" $value -}}
{{- index . 1 -}}
{{- else if kindIs "string" $value -}}
{{- $value -}}
{{- else -}}
{{- toJson $value -}}
{{- end -}}
{{- end -}}

{{/* IMAGE_PULL_SECRETS: a ";"-separated string as written, or a list of names or {name: ...}. */}}
{{- define "kip.imagePullSecrets" -}}
{{- $value := . -}}
{{- if kindIs "slice" $value -}}
{{- $names := list -}}
{{- range $value -}}
{{- if kindIs "map" . -}}
{{- $names = append $names (required "configMap.imagePullSecrets: each entry given as a map needs a name" .name) -}}
{{- else -}}
{{- $names = append $names (toString .) -}}
{{- end -}}
{{- end -}}
{{- join ";" $names -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- toString $value -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object (never used in selectors, which stay those of the Go chart). */}}
{{- define "kip.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: kubernetes-image-puller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
