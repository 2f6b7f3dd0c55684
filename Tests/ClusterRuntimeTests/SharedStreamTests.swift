import ClusterCore
import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// A client following many partitions holds one SUB connection per node on its own socket thread,
/// not a socket loop, a ZeroMQ context and a connection per partition: 64 streams add a bounded
/// number of threads, and every stream still gets exactly its own partition's records.
final class SharedStreamTests: XCTestCase {
    private func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
    }

    func testSixtyFourStreamsShareOneConnection() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-shared-stream-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("wide", partitions: 64)
        let before = threadCount()
        let streams = try (0..<64).map { partition in
            try PartitionStream(client: client, pubEndpoint: node.endpoints.pub, topic: "wide", partition: UInt32(partition), from: 0)
        }
        defer { for stream in streams { stream.close() } }
        let added = threadCount() - before
        print("64 partition streams added \(added) threads")
        XCTAssertLessThan(added, 8, "a thread (and a ZeroMQ context) per partition")
        // Each stream delivers its own partition's record, live.
        try await Task.sleep(for: .milliseconds(200))
        for partition in [0, 17, 63] {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: Array("p\(partition)".utf8), timestamp: 1)
            _ = try await client.produce(topic: "wide", partition: UInt32(partition), batch: builder.build())
        }
        for partition in [0, 17, 63] {
            var records = streams[partition].records().makeAsyncIterator()
            let first = try await records.next()
            XCTAssertEqual(first.map { String(decoding: $0.record.value!, as: UTF8.self) }, "p\(partition)")
        }
    }
}
