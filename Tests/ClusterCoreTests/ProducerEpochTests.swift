import ClusterCore
import XCTest

/// Producer epochs never wrap into a permanent fence: when an id's epochs are exhausted, the
/// producer gets a new id (Kafka's answer), and a wrapped epoch is never recorded.
final class ProducerEpochTests: XCTestCase {
    /// A state whose producer 1 is at its last epoch.
    private func exhausted() -> MetadataState {
        var state = MetadataState()
        state.apply(.producerInitialized(id: 1, epoch: 0))
        for epoch in 1...Int16.max { state.apply(.producerInitialized(id: 1, epoch: epoch)) }
        return state
    }

    func testAWrappedEpochIsNeverRecorded() {
        let state = exhausted()
        XCTAssertEqual(state.producerEpochs[1], Int16.max)
        XCTAssertThrowsError(try state.validate(.producerInitialized(id: 1, epoch: Int16.min)),
                             "epoch -32768 would fence the producer's every later batch")
    }

    func testAnExhaustedProducerGetsANewID() throws {
        let state = exhausted()
        let record = try state.producerInitialization(resuming: 1)
        XCTAssertEqual(record, .producerInitialized(id: 2, epoch: 0))
        XCTAssertNoThrow(try state.validate(record))
        XCTAssertEqual(try state.producerInitialization(resuming: nil), .producerInitialized(id: 2, epoch: 0))
        var fresh = MetadataState()
        fresh.apply(.producerInitialized(id: 1, epoch: 0))
        XCTAssertEqual(try fresh.producerInitialization(resuming: 1), .producerInitialized(id: 1, epoch: 1))
        XCTAssertThrowsError(try fresh.producerInitialization(resuming: 9), "an id never issued")
    }
}
