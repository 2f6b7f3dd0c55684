import EventLog
import Foundation

extension NodeAPI {
    /// Fences a batch's idempotent producer against the metadata, on every partition alike:
    /// the producer id must have been issued, and its epoch must be the current one (an older
    /// epoch is a fenced instance from the moment INIT_PRODUCER_ID bumped it; a newer one was
    /// never issued). Batches without a producer id (-1) are not idempotent and pass.
    func checkProducer(of batch: UnsafeRawBufferPointer) throws {
        // A batch too short to parse is refused by the log with the reason.
        guard let header = try? RecordBatchHeader(parsing: batch), header.producerID >= 0 else { return }
        guard let current = metadata.state.producerEpochs[header.producerID] else {
            throw ProtocolFailure(.invalidProducerEpoch,
                                  "producer id \(header.producerID) was never issued by this cluster; ask INIT_PRODUCER_ID for one")
        }
        if header.producerEpoch < current {
            throw ProtocolFailure(.invalidProducerEpoch,
                                  "producer \(header.producerID) sent epoch \(header.producerEpoch), but epoch \(current) took over; this producer instance is fenced")
        }
        if header.producerEpoch > current {
            throw ProtocolFailure(.invalidProducerEpoch,
                                  "producer \(header.producerID) sent epoch \(header.producerEpoch), which was never issued (the current epoch is \(current))")
        }
    }
}
