package packagedoc

// ingestionMethods maps an input type to the ingestion method EPR reports
// for streams and input-package policy templates (epr-api.md §2.9, §4.4).
// Inputs without an entry get no ingestion_method.
var ingestionMethods = map[string]string{
	// Pulling from remote HTTP(S) APIs.
	"cel": "API", "entity-analytics": "API", "httpjson": "API", "o365audit": "API",
	"salesforce": "API", "streaming": "API", "websocket": "API", "winlog": "API",
	"apache/metrics": "API", "aws/metrics": "API", "awsfargate/metrics": "API", "azure/metrics": "API",
	"containerd/metrics": "API", "docker/metrics": "API", "elasticsearch/metrics": "API",
	"enterprisesearch/metrics": "API", "etcd/metrics": "API", "gcp/metrics": "API",
	"haproxy/metrics": "API", "http/metrics": "API", "kibana/metrics": "API",
	"kubernetes/metrics": "API", "logstash/metrics": "API", "meraki/metrics": "API",
	"nats/metrics": "API", "nginx/metrics": "API", "panw/metrics": "API",
	"rabbitmq/metrics": "API", "stan/metrics": "API", "vsphere/metrics": "API",
	"windows/metrics": "API",
	// Databases.
	"memcached/metrics": "Database", "mongodb/metrics": "Database", "mysql/metrics": "Database",
	"postgresql/metrics": "Database", "redis": "Database", "redis/metrics": "Database",
	"sql/metrics": "Database", "zookeeper/metrics": "Database",
	// Jolokia.
	"activemq/metrics": "Jolokia", "jolokia/metrics": "Jolokia", "kafka/metrics": "Jolokia",
	// Files.
	"filestream": "File", "logfile": "File", "linux/metrics": "File", "system/metrics": "File",
	// Network protocols.
	"syslog": "Network Protocol", "tcp": "Network Protocol", "udp": "Network Protocol",
	"statsd/metrics": "Network Protocol",
	// Webhooks.
	"http_endpoint": "Webhook",
	// Named after the source.
	"aws-s3": "AWS S3", "azure-blob-storage": "Azure Blob Storage", "aws-cloudwatch": "AWS CloudWatch",
	"azure-eventhub": "Azure Event Hub", "etw": "ETW", "gcp-pubsub": "GCP Pub/Sub",
	"gcs": "Google Cloud Storage", "iis/metrics": "Windows Performance Counters",
	"journald": "journald", "kafka": "Kafka", "lumberjack": "Lumberjack", "netflow": "NetFlow",
	"prometheus/metrics": "Prometheus",
}
