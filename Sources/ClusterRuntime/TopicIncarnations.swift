import ClusterCore
import Foundation

/// Notices topics leaving and joining the replicated metadata as a node applies it, so that every
/// node, not only the one that answered the delete, keeps its group coordinators' offsets true to
/// the topics that exist: a deleted topic's offsets are forgotten, and a topic made again under
/// the same name (another ``TopicConfiguration/topicID``) finds none of the old one's — also
/// those a coordinator loaded while this node had not yet applied the deletion.
final class TopicIncarnations: @unchecked Sendable {
    /// What changed between two states.
    struct Changes {
        /// Topics gone.
        var deleted: [String] = []
        /// Topics new or made again, with their ids (topics without an id are not listed).
        var created: [(name: String, topicID: String)] = []
    }

    private let lock = NSLock()
    /// Each topic's id in the last state looked at (nil before the first).
    private var known: [String: String?]?

    /// What `state` changed since the last state looked at (nothing the first time).
    func changes(in state: MetadataState) -> Changes {
        lock.withLock {
            // Most applied records leave the topics as they were: nothing is made for those.
            if let known, known.count == state.topics.count,
               state.topics.allSatisfy({ name, configuration in known[name].map { $0 == configuration.topicID } ?? false }) {
                return Changes()
            }
            let current = state.topics.mapValues(\.topicID)
            defer { known = current }
            guard let known else { return Changes() }
            var changes = Changes()
            changes.deleted = known.keys.filter { current[$0] == nil }.sorted()
            for (name, id) in current.sorted(by: { $0.key < $1.key }) {
                guard let id, (known[name] ?? nil) != id else { continue }
                changes.created.append((name, id))
            }
            return changes
        }
    }

    /// Applies `changes` to the offsets `groups` holds.
    static func apply(_ changes: Changes, to groups: GroupDirectory) {
        for topic in changes.deleted { groups.forgetOffsets(ofTopic: topic) }
        for (topic, id) in changes.created { groups.forgetOffsets(ofTopic: topic, otherThan: id) }
    }
}
