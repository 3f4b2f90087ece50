{{/* Chart name, or nameOverride. */}}
{{- define "apitap.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource names: the release name, with the chart name unless it already holds it. */}}
{{- define "apitap.fullname" -}}
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

{{- define "apitap.selectorLabels" -}}
app.kubernetes.io/name: {{ include "apitap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: sensor
{{- end }}

{{/* The correlator's pods (apart from the sensors'). */}}
{{- define "apitap.correlatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "apitap.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: correlator
{{- end }}

{{- define "apitap.labels" -}}
{{ include "apitap.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The Secret holding admin-token and kafka-password. */}}
{{- define "apitap.secretName" -}}
{{- default (include "apitap.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "apitap.specsConfigMap" -}}
{{- if .Values.specsConfigMap }}
{{- .Values.specsConfigMap }}
{{- else if .Values.specs }}
{{- printf "%s-specs" (include "apitap.fullname" .) }}
{{- end }}
{{- end }}

{{- define "apitap.saslEnabled" -}}
{{- if and .Values.kafka.enabled .Values.kafka.sasl.mechanism }}true{{ end }}
{{- end }}

{{/* Paths inside the container; the config refers to them. */}}
{{- define "apitap.secretDir" -}}/run/secrets/apitap{{- end }}
{{- define "apitap.kafkaTLSDir" -}}/run/secrets/apitap-kafka-tls{{- end }}
{{- define "apitap.spoolDir" -}}/var/lib/apitap/spool{{- end }}
{{- define "apitap.specsDir" -}}/etc/apitap-specs{{- end }}

{{/* config.yaml: .Values.config plus the exporters.kafka section. */}}
{{- define "apitap.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if .Values.kafka.enabled }}
{{- if not .Values.kafka.brokers }}
{{- fail "kafka.enabled needs kafka.brokers (host:port list)" }}
{{- end }}
{{- $k := dict "brokers" .Values.kafka.brokers "compression" .Values.kafka.compression }}
{{- if .Values.kafka.topics }}
{{- $_ := set $k "topics" .Values.kafka.topics }}
{{- end }}
{{- if .Values.kafka.tls.enabled }}
{{- $tls := dict "enabled" true }}
{{- with .Values.kafka.tls.serverName }}
{{- $_ := set $tls "server_name" . }}
{{- end }}
{{- if .Values.kafka.tls.secretName }}
{{- $_ := set $tls "ca_file" (printf "%s/ca.crt" (include "apitap.kafkaTLSDir" .)) }}
{{- if .Values.kafka.tls.clientCert }}
{{- $_ := set $tls "cert_file" (printf "%s/tls.crt" (include "apitap.kafkaTLSDir" .)) }}
{{- $_ := set $tls "key_file" (printf "%s/tls.key" (include "apitap.kafkaTLSDir" .)) }}
{{- end }}
{{- end }}
{{- $_ := set $k "tls" $tls }}
{{- end }}
{{- if .Values.kafka.sasl.mechanism }}
{{- $_ := set $k "sasl" (dict "mechanism" .Values.kafka.sasl.mechanism "username" .Values.kafka.sasl.username "password_file" (printf "%s/kafka-password" (include "apitap.secretDir" .))) }}
{{- end }}
{{- $_ := set $k "spool" (dict "dir" (include "apitap.spoolDir" .) "max_bytes" (int64 .Values.kafka.spool.maxBytes) "fsync" .Values.kafka.spool.fsync) }}
{{- $ex := deepCopy (default (dict) (get $cfg "exporters")) }}
{{- $_ := set $ex "kafka" $k }}
{{- $_ := set $cfg "exporters" $ex }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}
