import ClusterCore
import GanglionTestKit

/// Voters wired together in memory for unit tests: messages are delivered at once, in order,
/// until none are left, except over links that are cut.
struct RaftTestCluster {
    var nodes: [String: RaftNode] = [:]
    /// Cut links, as "from>to".
    var cut: Set<String> = []
    /// Everything that was delivered or dropped, in order.
    var sent: [RaftMessage] = []
    /// What each node was told to persist and apply.
    var readies: [String: [RaftReady]] = [:]

    init(_ ids: [String], preVote: Bool = true, checkQuorum: Bool = true, persisted: [String: RaftPersistentState] = [:]) {
        for (offset, id) in ids.enumerated() {
            nodes[id] = makeRaftNode(id, voters: ids, persisted: persisted[id] ?? RaftPersistentState(),
                                     preVote: preVote, checkQuorum: checkQuorum, seed: UInt64(offset + 1))
        }
    }

    /// Cuts every link to and from `id`.
    mutating func isolate(_ id: String) {
        for other in nodes.keys where other != id { cut.insert("\(id)>\(other)"); cut.insert("\(other)>\(id)") }
    }

    /// Restores every link.
    mutating func heal() { cut = [] }

    /// Delivers `messages` and everything they cause.
    mutating func deliver(_ messages: [RaftMessage]) {
        var queue = messages[...]
        while let message = queue.popFirst() {
            sent.append(message)
            guard !cut.contains("\(message.from)>\(message.to)"), nodes[message.to] != nil else { continue }
            let ready = nodes[message.to]!.step(message)
            readies[message.to, default: []].append(ready)
            queue.append(contentsOf: ready.messages)
        }
    }

    /// Ticks `id` once and delivers what follows.
    mutating func tick(_ id: String) {
        let ready = nodes[id]!.tick()
        readies[id, default: []].append(ready)
        deliver(ready.messages)
    }

    /// Ticks every node `times` times, delivering as it goes.
    mutating func tickAll(_ times: Int) {
        for _ in 0..<times { for id in nodes.keys.sorted() { tick(id) } }
    }

    /// Ticks `id` until it campaigns (and delivers the campaign).
    mutating func campaign(_ id: String) {
        let start = nodes[id]!.role
        for _ in 0..<1000 where nodes[id]!.role == start && start != .leader { tick(id) }
    }

    /// Proposes `data` at `id` (which must lead) and delivers what follows.
    mutating func propose(_ id: String, _ data: [UInt8]) throws {
        let ready = try nodes[id]!.propose(data)
        readies[id, default: []].append(ready)
        deliver(ready.messages)
    }

    /// The terms of a node's entries, in order.
    func terms(_ id: String) -> [Int64] { nodes[id]!.log.entries.map(\.term) }
}

/// A voter with `electionTicks` 10 and heartbeats every tick.
func makeRaftNode(_ id: String, voters: [String], persisted: RaftPersistentState = RaftPersistentState(),
                  preVote: Bool = false, checkQuorum: Bool = false, seed: UInt64 = 1) -> RaftNode {
    let configuration = RaftConfiguration(id: id, voters: voters, electionTicks: 10, heartbeatTicks: 1,
                                          preVote: preVote, checkQuorum: checkQuorum)
    return try! RaftNode(configuration: configuration, persisted: persisted, random: SeededGenerator(seed: seed))
}

/// A persisted log whose entries have `terms`, in order from index 1.
func raftLog(terms: [Int64], term: Int64? = nil, vote: String? = nil, commit: Int64 = 0) -> RaftPersistentState {
    let entries = terms.enumerated().map { RaftEntry(term: $1, index: Int64($0 + 1), data: [UInt8($0 % 256)]) }
    return RaftPersistentState(hardState: RaftHardState(term: term ?? terms.last ?? 0, vote: vote, commit: commit), entries: entries)
}

/// A message from `from` to `to`.
func raftMessage(_ from: String, _ to: String, term: Int64, _ kind: RaftMessage.Kind) -> RaftMessage {
    RaftMessage(from: from, to: to, term: term, kind: kind)
}
