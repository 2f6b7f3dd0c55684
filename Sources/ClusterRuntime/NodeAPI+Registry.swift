import Dispatch

extension NodeAPI {
    /// Where the node answers registry requests: one serial queue off the socket thread, so a
    /// schema that takes seconds to compile delays neither produce nor fetch, and a flood of
    /// registrations occupies one core at most.
    static let registryWork = DispatchQueue(label: "ganglion.node.registry", qos: .userInitiated)
}
