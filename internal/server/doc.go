// Package server composes a running store: the buckets, the publishing job
// and its HTTP API, the indexer, and the registry API, on one listener;
// and the same publishing job and indexer without a server (NewJob), for
// `pkgstore job publish` and `pkgstore job index`.
//
// It is the wing at the top: it may import every wing but testkit.
//
//	logging  text/ECS JSON loggers, request ids, access log
//	metrics  Prometheus metrics
package server
