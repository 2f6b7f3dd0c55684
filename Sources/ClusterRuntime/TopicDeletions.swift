import ClusterCore
import Foundation

/// Notices topics leaving the replicated metadata as a node applies it, so that every node, not
/// only the one that answered the delete, forgets what its group coordinators hold of them
/// (``GroupDirectory/forgetOffsets(ofTopic:)``): a topic made again under the same name must not
/// find its groups' offsets of the old one.
final class TopicDeletions: @unchecked Sendable {
    private let lock = NSLock()
    /// The topics of the last state looked at (nil before the first).
    private var known: Set<String>?

    /// The topics in the last state looked at that `state` no longer has (none the first time).
    func deleted(in state: MetadataState) -> [String] {
        lock.withLock {
            // Most applied records leave the topics as they were: no set is made for those.
            if let known, known.count == state.topics.count, state.topics.keys.allSatisfy(known.contains) { return [] }
            let current = Set(state.topics.keys)
            defer { known = current }
            return known.map { $0.subtracting(current).sorted() } ?? []
        }
    }
}
