import ClusterCore
import Foundation
import GanglionWire
import Logging
import Metrics
import SwiftProtobuf
import ZeroMQ

/// The node's gatekeeper when security is on: names the principal of each connecting key (for the
/// ZAP handler), and decides each request against the ACLs in the replicated metadata — locally,
/// without a remote call, so a change reaches every node as fast as the metadata does. Every
/// refusal is logged (principal, operation, resource, result) and counted in
/// `ganglion_security_refusals_total`.
final class NodeGuard: @unchecked Sendable {
    /// The node's security settings.
    let security: NodeSecurity
    private let metadata: any MetadataLog
    private let logger: Logger
    // The authorizer built from the metadata's security state, rebuilt when the state changes;
    // guarded by `lock`.
    private let lock = NSLock()
    private var cached: (applied: Int64, state: SecurityState, authorizer: Authorizer)?

    /// A guard over `metadata`'s principals and ACLs.
    init(security: NodeSecurity, metadata: any MetadataLog, logger: Logger) {
        self.security = security
        self.metadata = metadata
        self.logger = logger
    }

    /// The authorizer for the metadata as it is now.
    var authorizer: Authorizer {
        let state = metadata.state
        return lock.withLock {
            if let cached, cached.applied == state.appliedCount { return cached.authorizer }
            if let cached, cached.state == state.security {
                self.cached = (state.appliedCount, cached.state, cached.authorizer)
                return cached.authorizer
            }
            let authorizer = Authorizer(state: state.security, superUsers: security.superUserNames)
            cached = (state.appliedCount, state.security, authorizer)
            return authorizer
        }
    }

    /// The security part of the metadata as it is now (principals, ACLs, tokens).
    var metadataSecurity: SecurityState { metadata.state.security }

    /// The principal a connecting CURVE key belongs to: the nodes' (the cluster key), a
    /// configured super user's, or one added to the metadata; nil refuses the connection.
    func principal(forKey key: CurveKey) -> String? {
        if key == security.clusterKeys.publicKey { return NodeSecurity.nodePrincipal }
        if let name = security.superUsers.first(where: { $0.value == key })?.key { return name }
        return authorizer.principal(forPublicKey: key.z85)
    }

    /// Answers one ZAP request: allowed keys get their principal as user id.
    func authenticate(_ request: ZAP.Request) -> [Frame] {
        guard request.domain == NodeSecurity.zapDomain, let key = request.curvePublicKey else {
            refused(principal: "(\(request.mechanism.lowercased()) client at \(request.address))", what: "connect", reason: "not a CURVE client")
            return request.reply(allowing: nil, reason: "CURVE required")
        }
        guard let principal = principal(forKey: key) else {
            refused(principal: "(unknown key \(key.z85) at \(request.address))", what: "connect", reason: "key not in the allow-list")
            return request.reply(allowing: nil, reason: "unknown key")
        }
        return request.reply(allowing: principal)
    }

    /// Why `principal` may not make a request needing `access`, or nil when it may; a refusal is
    /// logged and counted.
    func refusal(of access: RequestAccess, by principal: String?, kind: String) -> String? {
        guard let denied = denial(of: access, by: principal, kind: kind) else { return nil }
        refused(principal: denied.principal, what: denied.what, reason: denied.reason)
        return denied.message
    }

    /// ``refusal(of:by:kind:)`` without logging: who is refused what and why, and the message.
    private func denial(of access: RequestAccess, by principal: String?, kind: String) -> (principal: String, what: String, reason: String, message: String)? {
        guard let principal, !principal.isEmpty else {
            return ("(no principal)", kind, "unauthenticated", "the connection has no principal; security is on")
        }
        if principal == NodeSecurity.nodePrincipal { return nil }
        // A principal removed while connected loses everything at once (its connection stays
        // open, but it was named at the handshake by a key that is no longer listed).
        if security.superUsers[principal] == nil, metadataSecurity.principals[principal] == nil {
            return (principal, kind, "principal removed", "principal \(principal) no longer exists; reconnect with a listed key")
        }
        switch access {
        case .nodesOnly:
            return (principal, kind, "reserved to the nodes", "\(kind) requests are reserved to the cluster's nodes; principal \(principal) may not send them")
        case .all(let checks):
            let authorizer = self.authorizer
            for check in checks where !authorizer.authorize(principal: principal, operation: check.operation, resourceType: check.resourceType, name: check.name) {
                return (principal, check.description, "no ACL allows it, or one denies it",
                        "principal \(principal) may not \(check) (\(kind)); an administrator grants it with `ganglion acl add`")
            }
            return nil
        case .any(let checks):
            let authorizer = self.authorizer
            if checks.contains(where: { authorizer.authorize(principal: principal, operation: $0.operation, resourceType: $0.resourceType, name: $0.name) }) {
                return nil
            }
            let wanted = checks.map(\.description).joined(separator: " or ")
            return (principal, wanted, "no ACL allows it, or one denies it",
                    "principal \(principal) may not \(wanted) (\(kind)); an administrator grants it with `ganglion acl add`")
        }
    }

    /// Whether `principal` may read `topic` (a live-stream subscription; a refusal is logged).
    func mayRead(topic: String, principal: String?) -> Bool {
        refusal(of: .all([AccessCheck(operation: .read, resourceType: .topic, name: topic)]), by: principal, kind: "subscribe") == nil
    }

    /// Whether a live-stream subscription granted to `principal` earlier is still allowed (checked
    /// again as the ACLs change; nothing is logged, its revocation is by the caller).
    func stillMayRead(topic: String, principal: String?) -> Bool {
        denial(of: .all([AccessCheck(operation: .read, resourceType: .topic, name: topic)]), by: principal, kind: "subscribe") == nil
    }

    /// The change a SECURITY request asks for, as the audit log names it (nil: a listing, or a
    /// body that does not parse). Never includes a secret (a token's is only in the response).
    func auditedChange(_ body: Frame) -> String? {
        guard let request = try? body.withUnsafeBytes({ try Ganglion_V1_SecurityRequest(inPlace: $0) }), request.isChange else { return nil }
        return request.textFormatString().split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// Logs and counts one security change with its outcome (`ok` or the refusal's code).
    func audit(principal: String, change: String, response: [Frame]) {
        let header = response.first.flatMap { frame in try? frame.withUnsafeBytes { try Ganglion_V1_ResponseHeader(inPlace: $0) } }
        let result = header.map { $0.error == .none ? "ok" : "\($0.error)" } ?? "no answer"
        logger.notice("security: change", metadata: [
            "ganglion.security.principal": "\(principal)", "ganglion.security.action": "\(change)",
            "ganglion.security.result": "\(result)",
        ])
        Counter(label: "ganglion_security_changes_total", dimensions: [("result", result)]).increment()
    }

    /// Logs and counts one refusal.
    func refused(principal: String, what: String, reason: String) {
        logger.warning("security: refused", metadata: [
            "ganglion.security.principal": "\(principal)", "ganglion.security.action": "\(what)",
            "ganglion.security.result": "refused", "ganglion.security.reason": "\(reason)",
        ])
        Counter(label: "ganglion_security_refusals_total", dimensions: [("reason", reason)]).increment()
    }
}
