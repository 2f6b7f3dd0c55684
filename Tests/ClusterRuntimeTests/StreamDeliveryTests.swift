@testable import GanglionClients
import XCTest
import ZeroMQ

/// The hand-over between a stream's hub and its reader: in order, bounded by dropping the
/// newest (the reader repairs the gap by fetch), ended by finish or by the reader's cancellation.
final class StreamDeliveryTests: XCTestCase {
    private func batch(_ byte: UInt8) -> PartitionStream.Event { .batch([Frame([byte])]) }


    func testEventsComeInOrderAndPastTheLimitTheNewestAreDropped() async {
        let delivery = StreamDelivery(limit: 2)
        delivery.yield(batch(1))
        delivery.yield(batch(2))
        delivery.yield(batch(3))  // over the limit: dropped
        let first = await delivery.next(), second = await delivery.next()
        XCTAssertEqual(firstByte(first), 1)
        XCTAssertEqual(firstByte(second), 2)
        delivery.yield(.tick)
        guard case .tick = await delivery.next() else { return XCTFail("a tick queued after the drop is delivered") }
        delivery.finish()
        let after = await delivery.next()
        XCTAssertNil(after, "a finished delivery ends")
    }

    func testAWaitingReaderGetsTheNextEventAndFinishingDrainsFirst() async {
        let delivery = StreamDelivery(limit: 8)
        let reader = Task { () -> UInt8? in
            let event = await delivery.next()
            return firstByte(event)
        }
        try? await Task.sleep(for: .milliseconds(50))
        delivery.yield(batch(7))
        let got = await reader.value
        XCTAssertEqual(got, 7)
        delivery.yield(batch(8))
        delivery.finish()
        delivery.yield(batch(9))  // after finish: dropped
        let last = await delivery.next(), end = await delivery.next()
        XCTAssertEqual(firstByte(last), 8, "what waited before finish is still delivered")
        XCTAssertNil(end)
    }

    func testFinishWakesAWaitingReader() async {
        let delivery = StreamDelivery(limit: 8)
        let reader = Task { await delivery.next() == nil }
        try? await Task.sleep(for: .milliseconds(50))
        delivery.finish()
        let ended = await reader.value
        XCTAssertTrue(ended)
    }

    func testCancellingAWaitingReaderEndsTheDelivery() async {
        let delivery = StreamDelivery(limit: 8)
        let reader = Task { await delivery.next() == nil }
        try? await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        let ended = await reader.value
        XCTAssertTrue(ended, "a cancelled reader gets nil at once")
        delivery.yield(batch(1))
        let after = await delivery.next()
        XCTAssertNil(after, "the delivery ended with the cancellation")
    }
}

/// The first byte of a batch's first frame (nil for a tick or the end).
private func firstByte(_ event: PartitionStream.Event?) -> UInt8? {
    guard case .batch(let frames) = event else { return nil }
    return frames.first?.bytes.first
}
