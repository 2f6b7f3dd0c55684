import Foundation

/// Where the registry's state lives: the node's metadata log (``RegistryRecord``s appended
/// durably, then applied), or memory.
public protocol RegistryStore: Sendable {
    /// The state now.
    var registryState: RegistryState { get }
    /// Runs `decide` on the current state with writes excluded; commits the record it returns
    /// (durably, before applying it) and returns its answer.
    func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer
}

/// A registry held in memory only (tests, tools).
public final class InMemoryRegistryStore: RegistryStore, @unchecked Sendable {
    // `state` is guarded by `lock`.
    private let lock = NSLock()
    private var state = RegistryState()
    /// Every record committed, in order (replaying them rebuilds the state).
    public private(set) var records: [RegistryRecord] = []

    /// An empty registry.
    public init() {}

    /// The state now.
    public var registryState: RegistryState { lock.withLock { state } }

    /// See ``RegistryStore/updateRegistry(_:)``.
    public func updateRegistry<Answer>(_ decide: (RegistryState) throws -> (RegistryRecord?, Answer)) throws -> Answer {
        try lock.withLock {
            let (record, answer) = try decide(state)
            if let record {
                records.append(record)
                state.apply(record)
            }
            return answer
        }
    }
}
