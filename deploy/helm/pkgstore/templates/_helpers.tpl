{{- define "pkgstore.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pkgstore.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pkgstore.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pkgstore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pkgstore.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pkgstore.checkMode" -}}
{{- if not (has .Values.mode (list "allInOne" "buckets")) -}}
{{- fail (printf "mode must be allInOne or buckets, not %q" .Values.mode) -}}
{{- end -}}
{{- if and (eq .Values.mode "buckets") (or (not .Values.buckets.public) (not .Values.buckets.internal)) -}}
{{- fail "mode buckets needs buckets.public and buckets.internal" -}}
{{- end -}}
{{- end -}}

{{/* The pod spec shared by every workload: args is the pkgstore command. */}}
{{- define "pkgstore.podSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "pkgstore.serviceAccountName" $root }}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile: {type: RuntimeDefault}
{{- with .restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
containers:
  - name: pkgstore
    image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    # The image's entrypoint is EPR's command line; "pkgstore" as the
    # first argument selects pkgstore's own commands.
    args:
      {{- toYaml .args | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    {{- if .serving }}
    ports:
      - name: http
        containerPort: 8080
        protocol: TCP
    readinessProbe:
      httpGet: {path: /health, port: http}
      periodSeconds: 5
      failureThreshold: 3
    livenessProbe:
      tcpSocket: {port: http}
      periodSeconds: 20
      failureThreshold: 3
    {{- end }}
    {{- with $root.Values.env }}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- if or $root.Values.envFrom $root.Values.publishSecret }}
    envFrom:
      {{- with $root.Values.envFrom }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with $root.Values.publishSecret }}
      - secretRef: {name: {{ . }}}
      {{- end }}
    {{- end }}
    resources:
      {{- toYaml $root.Values.resources | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/pkgstore
        readOnly: true
      - name: tmp
        mountPath: /tmp
      {{- if eq $root.Values.mode "allInOne" }}
      - name: data
        mountPath: /data
      {{- end }}
volumes:
  - name: config
    configMap:
      name: {{ include "pkgstore.fullname" $root }}-{{ .config }}
  - name: tmp
    emptyDir: {}
  {{- if eq $root.Values.mode "allInOne" }}
  - name: data
    persistentVolumeClaim:
      claimName: {{ default (include "pkgstore.fullname" $root) $root.Values.allInOne.persistence.existingClaim }}
  {{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
