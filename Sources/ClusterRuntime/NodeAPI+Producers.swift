import EventLog
import Foundation

extension NodeAPI {
    /// Fences a batch's idempotent producer against the metadata, on every partition alike:
    /// the producer id must have been issued, and its epoch must be the current one (an older
    /// epoch is a fenced instance from the moment INIT_PRODUCER_ID bumped it; a newer one was
    /// never issued). Batches without a producer id (-1) are not idempotent and pass.
    /// On a cluster, an id or epoch newer than this node's copy of the metadata throws
    /// ``ProducerNotYetKnown`` instead: the record issuing it may not have reached this node yet.
    func checkProducer(of batch: UnsafeRawBufferPointer) throws {
        // A batch too short to parse is refused by the log with the reason.
        guard let header = try? RecordBatchHeader(parsing: batch), header.producerID >= 0 else { return }
        let state = metadata.state
        if cluster.isClustered, state.producerEpochs[header.producerID].map({ header.producerEpoch > $0 }) ?? (header.producerID >= state.nextProducerID) {
            throw ProducerNotYetKnown(id: header.producerID, epoch: header.producerEpoch)
        }
        guard let current = state.producerEpochs[header.producerID] else {
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

/// A batch's producer id or epoch is newer than this node's copy of the metadata knows: on a
/// cluster the controller may have issued it a moment ago, so its produce waits for the record.
struct ProducerNotYetKnown: Error {
    let id: Int64
    let epoch: Int16
}
