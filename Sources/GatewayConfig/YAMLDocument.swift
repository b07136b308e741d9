import Foundation
import Yams

/// A problem found in a configuration or directory file, naming the file, the entry and the line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The file the problems were found in.
    public var file: String
    /// Every problem found, each naming its key or entry.
    public var problems: [String]

    public init(file: String, problems: [String]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        if problems.count == 1 { return "\(file): \(problems[0])" }
        return "\(file): \(problems.count) problems:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Reads YAML into Yams nodes and walks them, collecting precise problems instead of stopping at the
/// first one, so that a person fixing a file sees everything wrong in one run.
struct YAMLWalker {
    var problems: [String] = []

    static func compose(_ text: String, file: String) throws(ConfigurationError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(file: file, problems: ["malformed YAML: \(Self.describe(error))"])
        } catch {
            throw ConfigurationError(file: file, problems: ["malformed YAML: \(error)"])
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ") + " at " + where_
        default:
            return "\(error)"
        }
    }

    mutating func problem(_ path: String, _ node: Node?, _ message: String) {
        if let line = node?.mark?.line {
            problems.append("\(path) (line \(line)): \(message)")
        } else {
            problems.append("\(path): \(message)")
        }
    }

    /// The pairs of a mapping, reporting duplicate and unknown keys.
    mutating func mapping(_ node: Node, path: String, allowedKeys: Set<String>) -> [String: Node]? {
        guard let mapping = node.mapping else {
            problem(path, node, "expected a mapping of keys to values")
            return nil
        }
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                problem(path, keyNode, "keys must be plain names")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            if result[key] != nil {
                problem(keyPath, keyNode, "the key appears twice")
            } else if !allowedKeys.contains(key) {
                let known = allowedKeys.sorted().joined(separator: ", ")
                problem(keyPath, keyNode, "unknown key (known keys: \(known))")
            } else {
                result[key] = value
            }
        }
        return result
    }

    mutating func sequence(_ node: Node, path: String) -> [Node]? {
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return []
        }
        guard let sequence = node.sequence else {
            problem(path, node, "expected a list")
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node, path: String) -> String? {
        guard let scalar = node.scalar else {
            problem(path, node, "expected a single value")
            return nil
        }
        return scalar.string
    }

    mutating func strings(_ node: Node, path: String) -> [String]? {
        guard let items = sequence(node, path: path) else { return nil }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard let value = string(item, path: "\(path)[\(index)]") else { return nil }
            result.append(value)
        }
        return result
    }
}
