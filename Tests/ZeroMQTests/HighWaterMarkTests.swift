import XCTest
@testable import ZeroMQ

/// What happens at the high-water mark, made visible.
final class HighWaterMarkTests: XCTestCase {
    private let sent = 20_000
    private let payload = [UInt8](repeating: 7, count: 1024)

    /// A PUB drops for a stalled subscriber; sequence numbers show exactly how many were lost.
    func testPubDropsForAStalledSubscriberAndTheGapIsCounted() throws {
        let pub = try Socket(.pub, context: try Context())
        try pub.set([.sendHighWaterMark(10), .sendBufferSize(16 * 1024)])
        let endpoint = try pub.bind(anyLoopbackPort)
        let sub = try Socket(.sub, context: try Context())
        try sub.set([.receiveHighWaterMark(10), .receiveBufferSize(16 * 1024)])
        try sub.subscribe("t\0")
        try sub.connect(endpoint)
        try awaitSubscription(publisher: pub, subscriber: sub, topic: "t\0")

        // The subscriber stalls (reads nothing) while the publisher sends; PUB never blocks.
        for sequence in 0..<sent {
            try pub.send(multipart: [Frame("t\0"), Frame("\(sequence)"), Frame(payload)], blocking: false)
        }
        XCTAssertEqual(pub.statistics.sendsRefused, 0, "PUB drops silently; it never refuses")

        let received = try receiveMessages(from: sub, count: sent, quiet: .milliseconds(500))
        let sequences = received.map { Int($0[1].string)! }
        XCTAssertEqual(sequences, sequences.sorted(), "what arrives stays in order")
        let dropped = sent - received.count
        var gaps = 0, previous = -1
        for sequence in sequences {
            if sequence != previous + 1 { gaps += sequence - previous - 1 }
            previous = sequence
        }
        gaps += sent - 1 - previous
        print("PUB HWM 10: sent \(sent), delivered \(received.count), dropped \(dropped) (seen as gaps: \(gaps))")
        XCTAssertGreaterThan(dropped, 0, "a stalled subscriber with HWM 10 cannot hold \(sent) KiB messages")
        XCTAssertGreaterThan(received.count, 0)
        XCTAssertEqual(gaps, dropped, "every drop shows up as a gap in the sequence")
    }

    /// An XPUB with no-drop refuses instead of dropping; the binding counts every refusal, and
    /// delivered + refused accounts for every message.
    func testXPubNoDropRefusesAtTheHighWaterMarkAndCountsEveryRefusal() throws {
        let xpub = try Socket(.xpub, context: try Context())
        try xpub.set([.sendHighWaterMark(10), .sendBufferSize(16 * 1024), .xpubNoDrop(true)])
        let endpoint = try xpub.bind(anyLoopbackPort)
        let sub = try Socket(.sub, context: try Context())
        try sub.set([.receiveHighWaterMark(10), .receiveBufferSize(16 * 1024)])
        try sub.subscribe("t\0")
        try sub.connect(endpoint)
        // XPUB sees the subscription itself: wait for it instead of probing.
        let subscription = try xpub.receiveStrings()
        XCTAssertEqual(subscription, ["\u{1}t\0"])

        var refused = 0
        var accepted: [Int] = []
        for sequence in 0..<sent {
            do {
                try xpub.send(multipart: [Frame("t\0"), Frame("\(sequence)"), Frame(payload)], blocking: false)
                accepted.append(sequence)
            } catch let error as ZeroMQError where error.isWouldBlock {
                refused += 1
            }
        }
        XCTAssertEqual(xpub.statistics.sendsRefused, UInt64(refused))
        XCTAssertGreaterThan(refused, 0, "a stalled subscriber must fill HWM 10")

        let received = try receiveMessages(from: sub, count: sent, quiet: .milliseconds(500))
        print("XPUB no-drop HWM 10: sent \(sent), delivered \(received.count), refused \(refused)")
        XCTAssertEqual(received.map { Int($0[1].string)! }, accepted, "every accepted message arrives, in order")
        XCTAssertEqual(received.count + refused, sent)
    }
}
