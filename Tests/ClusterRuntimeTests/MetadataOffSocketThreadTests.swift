import ClusterCore
import EventLog
import Foundation
import GanglionWire
import SwiftProtobuf
import XCTest
import ZeroMQ
@testable import ClusterRuntime

/// Metadata commits (topics, producer ids) complete asynchronously: while one waits for a slow
/// fsync of the metadata log, the node's socket thread keeps answering other requests.
final class MetadataOffSocketThreadTests: XCTestCase {
    func testASlowMetadataFsyncDoesNotHoldUpOtherRequests() throws {
        let directory = NSTemporaryDirectory() + "ganglion-metadata-async-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let faults = LogFaults()
        let node = try startTestNode(directory) { $0.metadataFaults = faults }
        defer { node.stop() }
        let client = try NodeTests.Client(node.endpoints.api)
        for slow in [Ganglion_V1_RequestKind.createTopic, .initProducerID] {
            faults.delayNextSyncs(1, by: .milliseconds(800))
            var header = Ganglion_V1_RequestHeader()
            header.kind = slow
            header.requestID = 100 + UInt64(slow.rawValue)
            header.version = 1
            var create = Ganglion_V1_CreateTopicRequest()
            create.name = "slow-\(slow.rawValue)"
            create.config.partitions = 1
            let body: [UInt8] = slow == .createTopic ? try create.serializedBytes() : try Ganglion_V1_InitProducerIdRequest().serializedBytes()
            try client.socket.send(multipart: [Frame(try header.serializedBytes() as [UInt8]), Frame(body)])
            usleep(50_000)  // the slow commit is waiting for its fsync now
            var metadata = Ganglion_V1_RequestHeader()
            metadata.kind = .metadata
            metadata.requestID = 7
            metadata.version = 1
            try client.socket.send(multipart: [Frame(try metadata.serializedBytes() as [UInt8]),
                                               Frame(try Ganglion_V1_MetadataRequest().serializedBytes() as [UInt8])])
            var order: [UInt64] = []
            for _ in 0..<2 {
                let reply = try client.socket.receiveMultipart()
                let answer = try reply[0].withUnsafeBytes { try Ganglion_V1_ResponseHeader(serializedBytes: Data($0)) }
                XCTAssertEqual(answer.error, .none, answer.errorMessage)
                order.append(answer.requestID)
            }
            XCTAssertEqual(order, [7, header.requestID], "\(slow): METADATA waited behind the metadata log's fsync")
        }
        XCTAssertNotNil(node.metadataState.topics["slow-\(Ganglion_V1_RequestKind.createTopic.rawValue)"])
    }
}
