import XCTest
@testable import ZeroMQ

/// PUB/SUB across two contexts over tcp loopback.
final class PubSubTests: XCTestCase {
    func testSubscriberReceivesOnlyItsTopicPrefix() throws {
        let publisherContext = try Context(), subscriberContext = try Context()
        let pub = try Socket(.pub, context: publisherContext)
        let endpoint = try pub.bind(anyLoopbackPort)
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"), endpoint)

        let orders = try Socket(.sub, context: subscriberContext)
        try orders.subscribe("orders\0")
        try orders.connect(endpoint)
        try awaitSubscription(publisher: pub, subscriber: orders, topic: "orders\0")

        for index in 0..<50 {
            try pub.send(multipart: [Frame("payments\0"), Frame("payment \(index)")])
            try pub.send(multipart: [Frame("orders\0"), Frame("order \(index)")])
            // A topic that merely starts like another must not match a NUL-terminated prefix.
            try pub.send(multipart: [Frame("ordersarchive\0"), Frame("archived \(index)")])
        }
        let received = try receiveMessages(from: orders, count: 51, quiet: .milliseconds(500))
        XCTAssertEqual(received.count, 50)
        XCTAssertTrue(received.allSatisfy { $0[0].string == "orders\0" }, "\(received.map { $0[0].string })")
    }

    func testMultipartMessagesArriveWholeAndInOrder() throws {
        let pub = try Socket(.pub, context: try Context())
        try pub.set(.sendHighWaterMark(0))  // integrity and order here, not HWM (see HighWaterMarkTests)
        let endpoint = try pub.bind(anyLoopbackPort)
        let sub = try Socket(.sub, context: try Context())
        try sub.set(.receiveHighWaterMark(0))
        try sub.subscribe("stream\0")
        try sub.connect(endpoint)
        try awaitSubscription(publisher: pub, subscriber: sub, topic: "stream\0")

        let count = 2000
        for sequence in 0..<count {
            // Frames of very different sizes, including an empty one and one beyond the VSM size.
            let large = [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 100 + sequence % 4000)
            try pub.send(multipart: [Frame("stream\0"), Frame("\(sequence)"), Frame(), Frame(large)])
        }
        let received = try receiveMessages(from: sub, count: count)
        XCTAssertEqual(received.count, count)
        for (sequence, message) in received.enumerated() {
            XCTAssertEqual(message.count, 4, "message \(sequence) has \(message.count) frames")
            XCTAssertEqual(message[1].string, "\(sequence)", "out of order at \(sequence)")
            XCTAssertTrue(message[2].isEmpty)
            XCTAssertEqual(message[3].count, 100 + sequence % 4000)
            XCTAssertTrue(message[3].bytes.allSatisfy { $0 == UInt8(truncatingIfNeeded: sequence) })
        }
        XCTAssertEqual(sub.statistics.framesReceived, UInt64(received.count * 4 + 2))
    }

    func testUnsubscribeStopsDelivery() throws {
        let pub = try Socket(.pub, context: try Context())
        let endpoint = try pub.bind(anyLoopbackPort)
        let sub = try Socket(.sub, context: try Context())
        try sub.subscribe("a\0")
        try sub.subscribe("b\0")
        try sub.connect(endpoint)
        try awaitSubscription(publisher: pub, subscriber: sub, topic: "a\0")
        try awaitSubscription(publisher: pub, subscriber: sub, topic: "b\0")
        try sub.unsubscribe("a\0")
        // The unsubscription travels to the publisher; after it, only b arrives.
        try awaitSubscription(publisher: pub, subscriber: sub, topic: "b\0")
        _ = try receiveMessages(from: sub, count: .max, quiet: .milliseconds(200))
        try pub.send(multipart: [Frame("a\0"), Frame("gone")])
        try pub.send(multipart: [Frame("b\0"), Frame("kept")])
        let received = try receiveMessages(from: sub, count: 2, quiet: .milliseconds(500))
        XCTAssertEqual(received.map { $0[1].string }, ["kept"])
    }
}
