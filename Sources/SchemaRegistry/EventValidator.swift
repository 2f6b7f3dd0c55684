import ProtoSchema

/// Why an event was refused by its topic's validation.
public struct SchemaViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// A short reason for metrics: `unknown_schema`, `wrong_subject`, `no_schema_id`, `undecodable`.
    public var reason: String
    /// What was wrong and what to do.
    public var message: String
    /// `message`.
    public var description: String { message }

    /// A violation.
    public init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }
}

/// Checks one event payload against a subject: with `id`, its schema id must be a version of the
/// subject; with `full`, the payload must also decode as the named message. The schema id comes
/// from the envelope's `schema_id`, or from Confluent's framing at the start of the payload.
public struct EventValidator: Sendable {
    /// The registry whose local state is consulted.
    public let registry: SchemaRegistryService

    /// A validator over `registry`.
    public init(registry: SchemaRegistryService) { self.registry = registry }

    /// Validates a payload against the registry's `state` (read once per batch by the caller;
    /// nil: now); `schemaID` and `messageName` come from the envelope (0 / empty when absent: the
    /// payload's Confluent framing, if any, is used).
    public func validate(payload: [UInt8], schemaID: UInt32, messageName: String, subject: String, full: Bool,
                         in state: RegistryState? = nil) throws(SchemaViolation) {
        let framing = ConfluentFraming(parsing: payload)
        let id = schemaID != 0 ? Int32(truncatingIfNeeded: schemaID) : framing?.schemaID ?? 0
        guard id > 0 else {
            throw SchemaViolation(reason: "no_schema_id", message: "the event names no schema id (envelope schema_id, or Confluent framing in its data); topic events must be versions of subject \(subject)")
        }
        let state = state ?? registry.state
        guard state.schemas[id] != nil else {
            throw SchemaViolation(reason: "unknown_schema", message: "schema id \(id) is not registered; register the schema under \(subject) first")
        }
        guard state.subjects[subject]?.versions.contains(where: { $0.id == id }) == true else {
            throw SchemaViolation(reason: "wrong_subject", message: "schema id \(id) is not a version of subject \(subject)")
        }
        guard full else { return }
        let compiled: CompiledSchema
        do {
            compiled = try registry.compilation.compiled(id: id, in: state)
        } catch {
            throw SchemaViolation(reason: "unknown_schema", message: "schema id \(id) does not compile: \(error)")
        }
        let framed = schemaID == 0 && framing != nil
        let name: String? = !messageName.isEmpty ? messageName
            : framed ? compiled.messageName(at: framing!.messageIndexes) : compiled.messageName(at: [0])
        guard let name, compiled.codec.contains(messageType: name) else {
            throw SchemaViolation(reason: "undecodable", message: "schema id \(id) has no message \(messageName.isEmpty ? "at index \(framing?.messageIndexes ?? [0])" : messageName)")
        }
        let body = framed ? Array(payload[framing!.payloadOffset...]) : payload
        do {
            try compiled.codec.validate(binary: body, messageType: name)
        } catch {
            throw SchemaViolation(reason: "undecodable", message: "the payload does not decode as \(name) (schema id \(id)): \(error)")
        }
    }
}
