import ClusterRuntime
import EventLog
import Foundation
import Ganglion
import GanglionWire
import XCTest

/// Idempotent producers against a node: a retried batch is stored once; a newer instance fences
/// the older one; a sequence gap is refused.
final class IdempotentProduceTests: XCTestCase {
    func testRetriesAreStoredOnceAndOldInstancesAreFenced() async throws {
        let directory = NSTemporaryDirectory() + "ganglion-idempotent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try startTestNode(directory)
        defer { node.stop() }
        let client = try GanglionClient(endpoint: node.endpoints.api)
        defer { client.close() }
        try await client.createTopic("payments", partitions: 1)

        let producer = try await IdempotentProducer(client: client)
        XCTAssertGreaterThan(producer.producerID, 0)
        let firstOffset = try await producer.send(topic: "payments", partition: 0, records: [Record(key: nil, value: [1], timestamp: 1)])
        XCTAssertEqual(firstOffset, 0)

        // The same batch arriving twice (a retry whose first attempt did get through).
        var builder = RecordBatchBuilder()
        builder.producerID = producer.producerID
        builder.producerEpoch = producer.epoch
        builder.baseSequence = 1
        builder.append(key: nil, value: [2], timestamp: 1)
        let retried = builder.build()
        let first = try await client.produce(topic: "payments", partition: 0, batch: retried)
        let again = try await client.produce(topic: "payments", partition: 0, batch: retried)
        XCTAssertEqual(first, again, "the retry is answered with the stored offset")
        let (fetched, _) = try await client.fetch(topic: "payments", partition: 0, offset: 0)
        XCTAssertEqual(fetched.logEndOffset, 2, "and stored once")

        // A gap in the sequence is refused.
        builder = RecordBatchBuilder()
        builder.producerID = producer.producerID
        builder.producerEpoch = producer.epoch
        builder.baseSequence = 9
        builder.append(key: nil, value: [3], timestamp: 1)
        do {
            _ = try await client.produce(topic: "payments", partition: 0, batch: builder.build())
            XCTFail("a gap must be refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .outOfOrderSequence)
        }

        // A new instance of the same producer fences the old one.
        let successor = try await IdempotentProducer(client: client, resuming: producer.producerID)
        XCTAssertEqual(successor.epoch, producer.epoch + 1)
        _ = try await successor.send(topic: "payments", partition: 0, records: [Record(key: nil, value: [4], timestamp: 1)])
        do {
            _ = try await producer.send(topic: "payments", partition: 0, records: [Record(key: nil, value: [5], timestamp: 1)])
            XCTFail("the fenced instance must be refused")
        } catch let error as GanglionError {
            XCTAssertEqual(error.code, .invalidProducerEpoch)
        }
    }
}
