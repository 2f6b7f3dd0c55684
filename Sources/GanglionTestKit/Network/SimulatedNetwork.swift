import ClusterCore

/// A message between simulated nodes: who sends it and who receives it.
protocol SimulatedMessage {
    var from: String { get }
    var to: String { get }
}

extension RaftMessage: SimulatedMessage {}

/// A seeded network between simulated nodes (any protocol's messages): messages are delayed,
/// dropped, duplicated and reordered, and partitions split the nodes into sides that cannot
/// reach each other. The Raft and the replication simulations share it.
struct SimulatedNetwork<Message: SimulatedMessage> {
    /// A message on its way, delivered at `arrival` (virtual milliseconds).
    struct InFlight {
        var arrival: Int64
        var message: Message
    }

    /// The chance in a thousand that a message is lost.
    var dropPerMille: UInt64 = 50
    /// The chance in a thousand that a message arrives twice.
    var duplicatePerMille: UInt64 = 30
    /// The longest ordinary delay; one message in twenty waits up to ten times longer.
    var maxDelay: Int64 = 10
    /// Each node's side; nodes on different sides cannot reach each other.
    private(set) var side: [String: Int] = [:]
    private(set) var inFlight: [InFlight] = []

    /// Whether `from` can reach `to` now.
    func connected(_ from: String, _ to: String) -> Bool { side[from, default: 0] == side[to, default: 0] }

    /// Puts each node on a side.
    mutating func partition(_ sides: [String: Int]) { side = sides }

    /// Puts every node on the same side.
    mutating func heal() { side = [:] }

    /// Sends `message` now, subject to the network's faults.
    mutating func send(_ message: Message, now: Int64, random: inout SeededGenerator) {
        guard connected(message.from, message.to), random.next() % 1000 >= dropPerMille else { return }
        let copies = random.next() % 1000 < duplicatePerMille ? 2 : 1
        for _ in 0..<copies {
            var delay = 1 + Int64(random.next() % UInt64(maxDelay))
            if random.next() % 20 == 0 { delay += Int64(random.next() % UInt64(maxDelay * 10)) }
            inFlight.append(InFlight(arrival: now + delay, message: message))
        }
    }

    /// Removes and returns the messages due by `now`, in a seeded order; a message to a node on
    /// the other side of a partition is lost, one to a paused node waits.
    mutating func due(now: Int64, paused: Set<String>, random: inout SeededGenerator) -> [Message] {
        var due: [Message] = []
        let side = self.side
        inFlight.removeAll { flight in
            guard flight.arrival <= now, !paused.contains(flight.message.to) else { return false }
            if side[flight.message.from, default: 0] == side[flight.message.to, default: 0] { due.append(flight.message) }
            return true
        }
        due.shuffle(using: &random)
        return due
    }
}
