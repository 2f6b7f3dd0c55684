import ClusterCore
import Foundation
import SchemaRegistry

/// The node's metadata as the rest of the node sees it, whether the node is a cluster of one
/// (``MetadataStore``: a local log) or one of many (``ReplicatedMetadataStore``: the log Raft
/// replicates among the controller voters, or that an observer follows).
protocol MetadataLog: RegistryStore {
    /// The metadata now (committed and applied).
    var state: MetadataState { get }
    /// Decides a record against the state decided so far, commits it, and calls `completion`
    /// once it is applied — or with why not (refused, no controller quorum, not the leader).
    /// Never answers on the caller's thread.
    func commit(deciding decide: @escaping (MetadataState) throws -> MetadataRecord,
                completion: @escaping @Sendable (Result<MetadataRecord, any Error>) -> Void)
    /// Closes the log.
    func close() throws
}

extension MetadataLog {
    /// Validates, commits and applies `record`, resuming once it is applied.
    func commit(_ record: MetadataRecord) async throws {
        _ = try await withCheckedThrowingContinuation { continuation in
            commit(deciding: { _ in record }) { continuation.resume(with: $0) }
        }
    }

    /// Blocking form for start-up paths and tests (never on the socket thread).
    func commitAndWait(_ record: MetadataRecord) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<MetadataRecord, any Error>?
        commit(deciding: { _ in record }) { result in
            outcome = result
            done.signal()
        }
        done.wait()
        _ = try outcome!.get()
    }
}
