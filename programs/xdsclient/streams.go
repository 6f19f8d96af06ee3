package main

// The stream log: what the upgrade's xDS-level probe reads (clusters/kwok/xds_probe.py). Each
// line is one JSON event, in the order the ADS client saw them:
//
//	{"t": 1733472000.123, "event": "stream"}   an ADS stream was opened (the client connected)
//	{"t": ..., "event": "retry"}                a stream broke, or opening one failed: retrying
//	{"t": ..., "event": "cds", "clusters": 11}  a CDS response on the current stream
//	{"t": ..., "event": "eds", "endpoints": {"<cluster>": [{"ep": "10.0.0.5:5000", "version": "v1"}]}}
//
// "stream" and "retry" come from the reconnect policy pkg/adsc calls (Reset when a stream's
// receive loop starts, NextBackOff when it ends or a reconnect fails), responses from its
// ResponseHandler, all on the client's own goroutines before it processes anything: so a
// response is always logged after the "stream" event of the stream that carried it.

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"

	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
)

type streamLog struct {
	mu   sync.Mutex
	file *os.File
}

func openStreamLog(path string) (*streamLog, error) {
	if path == "" {
		return nil, nil
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &streamLog{file: file}, nil
}

func (l *streamLog) write(event map[string]any) {
	if l == nil {
		return
	}
	event["t"] = float64(time.Now().UnixNano()) / 1e9
	line, err := json.Marshal(event)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.file.Write(append(line, '\n'))
}

// HandleResponse is pkg/adsc's ResponseHandler: every response, before the client processes it.
func (l *streamLog) HandleResponse(_ *adsc.ADSC, msg *discovery.DiscoveryResponse) {
	switch msg.GetTypeUrl() {
	case v3.ClusterType:
		l.write(map[string]any{"event": "cds", "clusters": len(msg.GetResources())})
	case v3.EndpointType:
		byCluster := map[string][]map[string]string{}
		for _, resource := range msg.GetResources() {
			cla := &endpoint.ClusterLoadAssignment{}
			if err := resource.UnmarshalTo(cla); err != nil {
				continue
			}
			list := []map[string]string{}
			for _, ep := range endpoints(cla) {
				list = append(list, map[string]string{
					"ep": ep.Address + ":" + strconv.FormatUint(uint64(ep.Port), 10), "version": workloadVersion(ep.Metadata),
				})
			}
			byCluster[cla.GetClusterName()] = list
		}
		l.write(map[string]any{"event": "eds", "endpoints": byCluster})
	}
}

// edsEndpoint is one endpoint of an EDS response: its socket address and its metadata as
// protojson writes it (filterMetadata.istio.workload, which workloadVersion reads).
type edsEndpoint struct {
	Address  string
	Port     uint32
	Metadata json.RawMessage
}

func endpoints(cla *endpoint.ClusterLoadAssignment) []edsEndpoint {
	var list []edsEndpoint
	for _, group := range cla.GetEndpoints() {
		for _, lb := range group.GetLbEndpoints() {
			socket := lb.GetEndpoint().GetAddress().GetSocketAddress()
			entry := edsEndpoint{Address: socket.GetAddress(), Port: socket.GetPortValue()}
			if lb.GetMetadata() != nil {
				entry.Metadata, _ = protojson.Marshal(lb.GetMetadata())
			}
			list = append(list, entry)
		}
	}
	return list
}

// workloadVersion is the version field of an endpoint's istio.workload metadata
// ("name;namespace;app;version;cluster", as istiod writes it); "" without one.
func workloadVersion(metadata json.RawMessage) string {
	var parsed struct {
		FilterMetadata map[string]map[string]any `json:"filterMetadata"`
	}
	if json.Unmarshal(metadata, &parsed) != nil {
		return ""
	}
	workload, _ := parsed.FilterMetadata["istio"]["workload"].(string)
	fields := strings.Split(workload, ";")
	if len(fields) < 4 {
		return ""
	}
	return fields[3]
}

// fixedRetry is the reconnect policy: a constant interval (Envoy's initial ADS retry delay,
// without growing), so that how long a proxy goes without a stream depends on when istiod
// answers again, not on how far a backoff has grown; it logs every stream and every retry.
type fixedRetry struct {
	interval time.Duration
	log      *streamLog
}

func (r fixedRetry) NextBackOff() time.Duration {
	r.log.write(map[string]any{"event": "retry"})
	return r.interval
}

func (r fixedRetry) Reset() { r.log.write(map[string]any{"event": "stream"}) }

func (r fixedRetry) RetryWithContext(ctx context.Context, operation func() error) error {
	for {
		if err := operation(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.interval):
		}
	}
}
