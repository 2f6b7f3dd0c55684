import AsyncHTTPClient
import Foundation
import Ganglion
import NIOCore

/// `ganglion bench --http`: events of `size` bytes accepted per second over HTTP ingest
/// (`POST /v1/topics/{topic}/events`), beside the ZeroMQ produce figure measured in the same
/// run against the same node. HTTP is driven over `connections` kept-alive connections, each
/// sending its next request when the last was answered 201 (acknowledged): once with one
/// binary-mode event per request, once with batches of `batch` events
/// (`application/cloudevents-batch+json`). Only answers inside the measured window count.
struct HTTPIngestBenchmark {
    let http: String
    let runner: BenchRunner
    let size: Int
    let connections: Int
    let batch: Int
    let seconds: Double
    let warmup: Duration = .milliseconds(500)

    /// One line per run: [ZeroMQ produce, HTTP binary, HTTP batch] events/s.
    func run(runs: Int) async throws -> [[Double]] {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var figures: [[Double]] = []
        do {
            for run in 1...runs {
                let zeromq = try await runner.measure(.produceInterval, size: size)[0]
                let single = try await measure(client, eventsPerRequest: 1)
                let batched = try await measure(client, eventsPerRequest: batch)
                figures.append([zeromq, single, batched])
                FileHandle.standardError.write(Data(("[ganglion] http \(size) B run \(run)/\(runs): ZeroMQ produce \(Int(zeromq)) events/s, "
                    + "HTTP \(Int(single)) events/s (1 event/request), \(Int(batched)) events/s (\(batch) events/request)\n").utf8))
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return figures
    }

    /// Events per second acknowledged over HTTP, `eventsPerRequest` per request.
    private func measure(_ client: HTTPClient, eventsPerRequest: Int) async throws -> Double {
        let topic = "bench-http-\(eventsPerRequest)-\(UUID().uuidString.prefix(8))"
        try await runner.client.createTopic(topic, partitions: 4)
        let url = http + "/v1/topics/\(topic)/events"
        let payload = (0..<size).map { _ in UInt8.random(in: 0...255) }
        let start = ContinuousClock.now.advanced(by: warmup)
        let end = start.advanced(by: .milliseconds(Int(seconds * 1000)))
        let counted = try await withThrowingTaskGroup(of: Int.self) { group in
            for connection in 0..<connections {
                group.addTask {
                    var accepted = 0
                    var sequence = 0
                    while ContinuousClock.now < end {
                        sequence += 1
                        let request = request(url: url, id: "c\(connection)-\(sequence)", payload: payload, events: eventsPerRequest)
                        let response = try await client.execute(request, timeout: .seconds(30))
                        let body = try await response.body.collect(upTo: 1 << 20)
                        guard response.status.code == 201 else {
                            throw GanglionError(code: .internal, message: "HTTP ingest answered \(response.status.code): \(String(buffer: body))")
                        }
                        // The first answer of each connection must place every event (a release-build check).
                        if sequence == 1, String(buffer: body).components(separatedBy: "\"offset\":").count - 1 != eventsPerRequest {
                            throw GanglionError(code: .internal, message: "HTTP ingest's answer does not place all \(eventsPerRequest) events: \(String(buffer: body))")
                        }
                        let now = ContinuousClock.now
                        if now >= start && now < end { accepted += eventsPerRequest }
                    }
                    return accepted
                }
            }
            return try await group.reduce(0, +)
        }
        try? await runner.client.deleteTopic(topic)
        return Double(counted) / seconds
    }

    private func request(url: String, id: String, payload: [UInt8], events: Int) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if events == 1 {
            request.headers.add(name: "ce-specversion", value: "1.0")
            request.headers.add(name: "ce-id", value: id)
            request.headers.add(name: "ce-source", value: "/bench")
            request.headers.add(name: "ce-type", value: "bench.event")
            request.headers.add(name: "ce-partitionkey", value: "k\(id.hashValue & 63)")
            request.headers.add(name: "content-type", value: "application/octet-stream")
            request.body = .bytes(ByteBuffer(bytes: payload))
        } else {
            let data = Data(payload).base64EncodedString()
            let members = (0..<events).map { index in
                #"{"specversion":"1.0","id":"\#(id)-\#(index)","source":"/bench","type":"bench.event","partitionkey":"k\#(index & 63)","datacontenttype":"application/octet-stream","data_base64":"\#(data)"}"#
            }
            request.headers.add(name: "content-type", value: "application/cloudevents-batch+json")
            request.body = .bytes(ByteBuffer(string: "[" + members.joined(separator: ",") + "]"))
        }
        return request
    }
}
