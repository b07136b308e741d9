import Foundation
import GatewayCore
import Testing
import Yams

/// The project's OpenAPI document, and a checker of responses against it: a documented operation,
/// a documented status, and a body matching the documented schema (types, required fields,
/// nullability, enums, formats, `$ref`, `oneOf`).
final class OpenAPIDocument: @unchecked Sendable {
    let root: [String: Any]
    private(set) var exercised: Set<String> = []
    private(set) var problems: [String] = []

    init(path: String) throws {
        root = try #require(try Yams.load(yaml: String(contentsOfFile: path, encoding: .utf8)) as? [String: Any])
    }

    /// Every documented operation as `METHOD /template`.
    var operations: Set<String> {
        var result: Set<String> = []
        for (path, item) in (root["paths"] as? [String: Any]) ?? [:] {
            for method in ((item as? [String: Any]) ?? [:]).keys where ["get", "post", "put", "delete", "patch"].contains(method) {
                result.insert("\(method.uppercased()) \(path)")
            }
        }
        return result
    }

    /// The documented template that `path` (under the server prefix) matches.
    func template(for path: String) -> String? {
        let segments = path.split(separator: "/")
        for template in ((root["paths"] as? [String: Any]) ?? [:]).keys {
            let parts = template.split(separator: "/")
            guard parts.count == segments.count else { continue }
            if zip(parts, segments).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) { return template }
        }
        return nil
    }

    /// Checks one exchange; problems are collected for the test to report.
    func check(method: String, path: String, status: Int, body: Data) {
        let bare = path.split(separator: "?").first.map(String.init) ?? path
        guard let template = template(for: bare), let item = (root["paths"] as? [String: Any])?[template] as? [String: Any],
              let operation = item[method.lowercased()] as? [String: Any] else {
            problems.append("\(method) \(bare): not documented")
            return
        }
        exercised.insert("\(method) \(template)")
        guard var response = (operation["responses"] as? [String: Any])?[String(status)] as? [String: Any] else {
            problems.append("\(method) \(template): status \(status) not documented")
            return
        }
        if let ref = response["$ref"] as? String { response = resolve(ref) }
        guard let schema = ((response["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any] else {
            return
        }
        guard let json = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) else {
            problems.append("\(method) \(template) \(status): body is not JSON")
            return
        }
        validate(json, schema, at: "\(method) \(template) \(status)")
    }

    private func resolve(_ ref: String) -> [String: Any] {
        var node: Any = root
        for part in ref.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        return node as? [String: Any] ?? [:]
    }

    private func validate(_ value: Any, _ schema: [String: Any], at location: String) {
        if let ref = schema["$ref"] as? String { return validate(value, resolve(ref), at: location) }
        if value is NSNull {
            if schema["nullable"] as? Bool != true { problems.append("\(location): null where not nullable") }
            return
        }
        if let options = schema["oneOf"] as? [[String: Any]] {
            let before = problems.count
            var matched = 0
            for option in options {
                let mark = problems.count
                validate(value, option, at: location)
                if problems.count == mark { matched += 1 }
                problems.removeSubrange(mark...)
            }
            problems.removeSubrange(before...)
            if matched != 1 { problems.append("\(location): matches \(matched) of oneOf") }
            return
        }
        if let allowed = schema["enum"] as? [Any], !allowed.contains(where: { "\($0)" == "\(value)" }) {
            problems.append("\(location): \(value) not in enum")
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return problems.append("\(location): not an object") }
            for field in (schema["required"] as? [String]) ?? [] where object[field] == nil {
                problems.append("\(location): missing required \(field)")
            }
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            for (key, child) in object {
                guard let property = properties[key] as? [String: Any] else {
                    problems.append("\(location): undocumented field \(key)")
                    continue
                }
                validate(child, property, at: "\(location).\(key)")
            }
        case "array":
            guard let array = value as? [Any] else { return problems.append("\(location): not an array") }
            for (index, element) in array.enumerated() { validate(element, (schema["items"] as? [String: Any]) ?? [:], at: "\(location)[\(index)]") }
        case "string":
            guard let text = value as? String else { return problems.append("\(location): not a string") }
            if schema["format"] as? String == "date-time", RFC3339.date(from: text) == nil {
                problems.append("\(location): \(text) is not a date-time")
            }
        case "integer":
            guard let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded() else {
                return problems.append("\(location): not an integer")
            }
            if "\(value)" == "true" || "\(value)" == "false" { problems.append("\(location): boolean where integer") }
        case "boolean":
            guard "\(value)" == "true" || "\(value)" == "false" || value is Bool else { return problems.append("\(location): not a boolean") }
        default:
            break
        }
    }
}
