import Foundation

/// A controller voter: its node id and its request endpoint.
public struct VoterAddress: Sendable, Hashable, Codable {
    /// The voter's node id.
    public var id: String
    /// Its request endpoint (`tcp://host:port`).
    public var api: String

    /// A voter.
    public init(id: String, api: String) {
        self.id = id
        self.api = api
    }

    /// Parses `--voters`: `ID@HOST:PORT,…` (a `tcp://` prefix on the address is allowed).
    public static func parseList(_ text: String) throws -> [VoterAddress] {
        var voters: [VoterAddress] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let at = item.firstIndex(of: "@") else {
                throw ControllerSettingsError(message: "voter \"\(item)\" must be ID@HOST:PORT")
            }
            let id = String(item[..<at])
            var address = String(item[item.index(after: at)...])
            if address.hasPrefix("tcp://") { address.removeFirst(6) }
            guard !id.isEmpty, let colon = address.lastIndex(of: ":"), !address[..<colon].isEmpty,
                  let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port) else {
                throw ControllerSettingsError(message: "voter \"\(item)\" must be ID@HOST:PORT with a port 1–65535")
            }
            guard !voters.contains(where: { $0.id == id }) else {
                throw ControllerSettingsError(message: "voter \(id) is named twice in the voters list")
            }
            voters.append(VoterAddress(id: id, api: "tcp://" + address))
        }
        guard !voters.isEmpty else { throw ControllerSettingsError(message: "the voters list is empty") }
        return voters
    }
}

/// How a node takes part in the controller quorum.
public struct ControllerSettings: Sendable, Hashable {
    /// The voters; empty (the default) makes the node the only voter of its own cluster.
    public var voters: [VoterAddress] = []
    /// The Raft clock's tick.
    public var tick: Duration = .milliseconds(50)
    /// The election timeout in ticks (a follower campaigns after a random [T, 2T) without a leader).
    public var electionTicks = 10
    /// The leader's heartbeat interval in ticks.
    public var heartbeatTicks = 1
    /// How long a metadata write may wait for its commit before it fails with TIMEOUT.
    public var commitTimeout: Duration = .seconds(5)
    /// How often every node heartbeats to the controller.
    public var nodeHeartbeat: Duration = .seconds(1)
    /// How long the controller waits without a node's heartbeat before it fences the node.
    public var nodeSessionTimeout: Duration = .seconds(6)
    /// Raft entries applied between metadata snapshots.
    public var snapshotEvery = 10_000

    /// The defaults: a cluster of one.
    public init() {}

    /// Whether nodes run the replicated controller (false: no voters configured — the single
    /// node, deciding everything itself). A voters list naming only this node is a quorum of one
    /// that other nodes can join as observers and that grows by adding nodes.
    var isClustered: Bool { !voters.isEmpty }
}

/// A controller setting that cannot be used.
public struct ControllerSettingsError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
