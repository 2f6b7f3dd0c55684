/// One difference found between an original schema and an update of it (Confluent's `Difference`).
///
/// `old` and `new` describe the element in the original and in the update of that comparison. In a forward check
/// the original is the new schema and the update the earlier version (old readers must read new data);
/// ``CompatibilityViolation`` maps them back to the versions' own ages.
public struct SchemaDifference: Sendable, Hashable, CustomStringConvertible {
    /// What changed.
    public var rule: SchemaChangeRule
    /// The element's full name: `shop.Order.amount`, `shop.Order.payment` (a oneof), `shop.Status.ACTIVE`.
    public var path: String
    /// Confluent's path of the same element: `#/Order/3`, `#/Order/payment/4`, `#/` for the file.
    public var location: String
    /// The field or enum value number concerned, when the difference is about one.
    public var number: Int32?
    /// The element in the original, nil when it is absent there.
    public var old: String?
    /// The element in the update, nil when it is absent there.
    public var new: String?

    /// A difference found at `path`.
    public init(rule: SchemaChangeRule, path: String, location: String, number: Int32?, old: String?, new: String?) {
        self.rule = rule
        self.path = path
        self.location = location
        self.number = number
        self.old = old
        self.new = new
    }

    /// Whether this difference keeps the two schemas compatible.
    public var isCompatible: Bool { rule.isCompatible }

    /// `FIELD_SCALAR_KIND_CHANGED shop.Order.amount: int32 → string`.
    public var description: String {
        "\(rule.rawValue) \(path): \(old ?? "(absent)") → \(new ?? "(absent)")"
    }
}
