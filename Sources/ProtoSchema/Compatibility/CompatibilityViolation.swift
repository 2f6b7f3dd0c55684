/// An incompatible difference between a candidate schema and an earlier version, said so a person can act on it.
public struct CompatibilityViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule broken, by Confluent's name (or a strict rule's).
    public var rule: SchemaChangeRule
    /// The element's full name, e.g. `shop.Order.amount`.
    public var path: String
    /// Confluent's path of the element, e.g. `#/Order/3`.
    public var location: String
    /// The field or enum value number concerned, when there is one.
    public var number: Int32?
    /// The element in the earlier version, nil when it is absent there.
    public var old: String?
    /// The element in the candidate, nil when it is absent there.
    public var new: String?
    /// Which way the comparison that found it went.
    public var check: ComparisonKind
    /// The position of the earlier version in the history (0 is the oldest).
    public var historyIndex: Int
    /// What to do instead, as one sentence.
    public var advice: String

    /// The violation behind `difference`, found by `comparison`; `old` and `new` are set by the versions' ages.
    public init(_ difference: SchemaDifference, foundBy comparison: SchemaComparison) {
        rule = difference.rule
        path = difference.path
        location = difference.location
        number = difference.number
        let swapped = comparison.kind == .forward
        old = swapped ? difference.new : difference.old
        new = swapped ? difference.old : difference.new
        check = comparison.kind
        historyIndex = comparison.historyIndex
        advice = CompatibilityAdvice.sentence(rule: rule, path: path, number: number, old: old, new: new,
                                              version: historyIndex + 1)
    }

    /// The rule, the path, old and new, which check found it, and what to do instead.
    public var message: String {
        "\(rule.rawValue) at \(path): \(old ?? "(absent)") → \(new ?? "(absent)") (\(checkPhrase)). "
            + "Instead, \(advice)."
    }

    /// Same as ``message``.
    public var description: String { message }

    private var checkPhrase: String {
        let version = "version \(historyIndex + 1)"
        return switch check {
        case .backward: "the new schema could not read data written with \(version)"
        case .forward: "\(version) could not read data written with the new schema"
        case .strict: "strict wire rules against \(version)"
        }
    }
}
