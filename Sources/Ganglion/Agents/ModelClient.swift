/// The seam where an agent would call a model (an LLM, a scoring service): the demo agents decide
/// by rules and take an optional `ModelClient`; plug one in to have the model's answer used, with
/// the model and its version recorded in the decision record. Calls run inside the handler, so the
/// agent's per-attempt deadline and retries apply to them, and a replay in a shadow group compares
/// a new model's decisions with the recorded ones.
public protocol ModelClient: Sendable {
    /// The model's name and version, recorded with each decision it shaped.
    var modelVersion: String { get }
    /// Answers `prompt` given `context` (named inputs); throwing fails the attempt (retried).
    func complete(prompt: String, context: [String: String]) async throws -> String
}
