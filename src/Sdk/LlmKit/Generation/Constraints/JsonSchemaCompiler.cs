using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// Builds the JSON Schema subset (see <see cref="OutputConstraint.JsonSchema(JsonElement)"/>) into grammar fragments.
/// Objects are written with their properties in schema order (required ones always, optional ones optionally), no
/// extra properties, and at most one space after ':' and ','. Every output is valid against the schema; not every
/// valid document can be produced.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$comment", "$anchor", "title", "description", "default", "examples", "format", "readOnly", "writeOnly", "deprecated",
        "$defs", "definitions", "contentEncoding", "contentMediaType",
    };

    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal)
    {
        "type", "properties", "required", "additionalProperties", "enum", "const", "pattern", "minLength", "maxLength",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "items", "minItems", "maxItems", "anyOf", "$ref",
    };

    /// <summary>
    /// String formats written as patterns (other formats are annotations): the shapes System.Text.Json reads back for
    /// DateTime(Offset), DateOnly, TimeOnly and Guid.
    /// </summary>
    private static readonly Dictionary<string, string> FormatPatterns = new(StringComparer.Ordinal)
    {
        ["date"] = @"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])",
        ["time"] = @"([01]\d|2[0-3]):[0-5]\d:[0-5]\d",
        ["date-time"] = @"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(Z|[+-](0\d|1[0-3]):[0-5]\d)?",
        ["uuid"] = @"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    };

    private static readonly JsonSerializerOptions Writer = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ConstraintCompiler _compiler;
    private readonly JsonElement _root;
    private readonly Dictionary<string, GrammarRule> _refs = new(StringComparer.Ordinal);

    public JsonSchemaCompiler(ConstraintCompiler compiler, JsonElement root)
    {
        _compiler = compiler;
        _root = root;
    }

    public Fragment Build(RuleBuilder b) => Build(b, _root, "#");

    private Fragment Build(RuleBuilder b, JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return b.Call(_compiler.JsonValue);
        }

        if (schema.ValueKind == JsonValueKind.False)
        {
            return b.Alternatives([]); // nothing matches
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"JSON schema at {path} must be an object or a boolean, not {schema.ValueKind}.", "schema");
        }

        foreach (var property in schema.EnumerateObject())
        {
            if (!Supported.Contains(property.Name) && !Annotations.Contains(property.Name))
            {
                throw new NotSupportedException($"JSON schema keyword '{property.Name}' (at {path}) is not supported by constrained decoding; see OutputConstraint.JsonSchema for the subset.");
            }
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            RequireAlone(schema, "$ref", path);
            return b.Call(Resolve(reference.GetString() ?? "", path));
        }

        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            RequireAlone(schema, "anyOf", path);
            var options = new List<Fragment>();
            int i = 0;
            foreach (var option in anyOf.EnumerateArray())
            {
                options.Add(Build(b, option, $"{path}/anyOf/{i++}"));
            }

            return b.Alternatives(options);
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return b.Literal(Serialize(constant));
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            return b.Alternatives([.. values.EnumerateArray().Select(v => b.Literal(Serialize(v)))]);
        }

        var types = Types(schema, path);
        if (types.Count == 0)
        {
            return b.Call(_compiler.JsonValue);
        }

        return types.Count == 1 ? BuildType(b, schema, types[0], path) : b.Alternatives([.. types.Select(t => BuildType(b, schema, t, path))]);
    }

    private static List<string> Types(JsonElement schema, string path)
    {
        if (schema.TryGetProperty("type", out var type))
        {
            return type.ValueKind switch
            {
                JsonValueKind.String => [type.GetString()!],
                JsonValueKind.Array => [.. type.EnumerateArray().Select(t => t.GetString()!)],
                _ => throw new ArgumentException($"JSON schema 'type' at {path} must be a string or an array of strings.", "schema"),
            };
        }

        // No type: infer it from the keywords that apply to one type only; otherwise any value.
        if (schema.TryGetProperty("properties", out _) || schema.TryGetProperty("required", out _) || schema.TryGetProperty("additionalProperties", out _))
        {
            return ["object"];
        }

        if (schema.TryGetProperty("items", out _) || schema.TryGetProperty("minItems", out _) || schema.TryGetProperty("maxItems", out _))
        {
            return ["array"];
        }

        if (schema.TryGetProperty("pattern", out _) || schema.TryGetProperty("minLength", out _) || schema.TryGetProperty("maxLength", out _))
        {
            return ["string"];
        }

        return schema.TryGetProperty("minimum", out _) || schema.TryGetProperty("maximum", out _) ? ["number"] : [];
    }

    private Fragment BuildType(RuleBuilder b, JsonElement schema, string type, string path) => type switch
    {
        "null" => b.Literal("null"),
        "boolean" => b.Alternatives([b.Literal("true"), b.Literal("false")]),
        "string" => BuildString(b, schema, path),
        "integer" => BuildInteger(b, schema, path),
        "number" => BuildNumber(b, schema, path),
        "array" => BuildArray(b, schema, path),
        "object" => BuildObject(b, schema, path),
        _ => throw new NotSupportedException($"JSON schema type '{type}' (at {path}) is not supported by constrained decoding."),
    };

    private Fragment BuildString(RuleBuilder b, JsonElement schema, string path)
    {
        int? minLength = OptionalInt(schema, "minLength", path);
        int? maxLength = OptionalInt(schema, "maxLength", path);
        Fragment body;
        string? patternText = schema.TryGetProperty("pattern", out var pattern) ? pattern.GetString() ?? "" : null;
        if (patternText is null && minLength is null && maxLength is null
            && schema.TryGetProperty("format", out var format) && FormatPatterns.TryGetValue(format.GetString() ?? "", out var formatPattern))
        {
            patternText = formatPattern; // so a DateTime, Guid or TimeSpan property deserializes
        }

        if (patternText is not null)
        {
            if (minLength is not null || maxLength is not null)
            {
                throw new NotSupportedException($"JSON schema at {path}: 'pattern' together with 'minLength'/'maxLength' is not supported by constrained decoding; put the length into the pattern.");
            }

            var node = RegexSubset.Parse(patternText);
            body = RegexSubset.Build(node, b, set => ConstraintCompiler.JsonStringCharacters(b, set));
        }
        else if (minLength is null && maxLength is null)
        {
            return b.Call(_compiler.JsonString);
        }
        else
        {
            // Length counts characters (UTF-16 units in .NET validators, code points in JSON Schema; they agree outside the astral planes).
            var character = _compiler.JsonStringCharacter;
            body = b.Repeat(() => b.Call(character), minLength ?? 0, maxLength, $"maxLength at {path}");
        }

        return b.Sequence(b.Literal("\""), body, b.Literal("\""));
    }

    private static Fragment BuildNumber(RuleBuilder b, JsonElement schema, string path)
    {
        foreach (string keyword in (string[])["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"])
        {
            if (schema.TryGetProperty(keyword, out _))
            {
                throw new NotSupportedException($"JSON schema keyword '{keyword}' on a number (at {path}) is not supported by constrained decoding; it is supported on integers.");
            }
        }

        return ConstraintCompiler.Number(b);
    }

    private static Fragment BuildInteger(RuleBuilder b, JsonElement schema, string path)
    {
        long? min = Bound(schema, "minimum", path, ceiling: true);
        long? max = Bound(schema, "maximum", path, ceiling: false);
        if (Bound(schema, "exclusiveMinimum", path, ceiling: false) is { } exMin)
        {
            min = Math.Max(min ?? long.MinValue, exMin + 1);
        }

        if (Bound(schema, "exclusiveMaximum", path, ceiling: true) is { } exMax)
        {
            max = Math.Min(max ?? long.MaxValue, exMax - 1);
        }

        // A missing bound becomes +-(10^9 - 1), so the value fits a .NET int (System.Text.Json's schema for int has no
        // range): a tiny model would otherwise write digits until the budget ends. A bound beyond it is kept as given.
        const long IntLimit = 999_999_999;
        min ??= Math.Min(-IntLimit, max ?? -IntLimit);
        max ??= Math.Max(IntLimit, min.Value);
        return IntegerRange.Build(b, min, max);
    }

    private static long? Bound(JsonElement schema, string keyword, string path, bool ceiling)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw new ArgumentException($"JSON schema '{keyword}' at {path} must be a number.", "schema");
        }

        double d = value.GetDouble();
        d = ceiling ? Math.Ceiling(d) : Math.Floor(d);
        const double limit = 1e18; // keeps +-1 and negation inside long
        return (long)Math.Clamp(d, -limit, limit);
    }

    private Fragment BuildArray(RuleBuilder b, JsonElement schema, string path)
    {
        int min = OptionalInt(schema, "minItems", path) ?? 0;
        int? max = OptionalInt(schema, "maxItems", path);
        if (max < min)
        {
            return b.Alternatives([]);
        }

        bool hasItems = schema.TryGetProperty("items", out var items);
        if (hasItems && items.ValueKind == JsonValueKind.Array)
        {
            throw new NotSupportedException($"JSON schema 'items' as an array (at {path}) is not supported by constrained decoding; use one schema for all items.");
        }

        // The item schema is built once as a rule of its own and called from each slot: maxItems unrolls the slots.
        GrammarRule? itemRule = null;
        if (hasItems)
        {
            var itemBuilder = _compiler.NewRule("items " + path);
            itemBuilder.Complete(Build(itemBuilder, items, path + "/items"));
            itemRule = itemBuilder.Rule;
        }

        Fragment Item() => b.Call(itemRule ?? _compiler.JsonValue);
        Fragment NextItem() => b.Sequence(b.Literal(","), ConstraintCompiler.Space(b), Item());

        if (max == 0)
        {
            return b.Literal("[]");
        }

        var list = b.Sequence(Item(), b.Repeat(NextItem, Math.Max(0, min - 1), max - 1, $"maxItems at {path}"));
        return b.Sequence(b.Literal("["), min == 0 ? b.Optional(list) : list, b.Literal("]"));
    }

    private Fragment BuildObject(RuleBuilder b, JsonElement schema, string path)
    {
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var req))
        {
            foreach (var name in req.EnumerateArray())
            {
                required.Add(name.GetString()!);
            }
        }

        if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
        {
            bool closed = schema.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False;
            if (required.Count > 0)
            {
                throw new NotSupportedException($"JSON schema at {path}: 'required' without 'properties' is not supported by constrained decoding.");
            }

            return closed ? b.Literal("{}") : AnyObject(b);
        }

        foreach (string name in required)
        {
            if (!properties.TryGetProperty(name, out _))
            {
                throw new NotSupportedException($"JSON schema at {path}: required property '{name}' has no schema in 'properties'.");
            }
        }

        // States before property i: none written yet (comma-free) or some written (a comma comes first).
        int none = b.Rule.NewState();
        int some = b.Rule.NewState();
        int start = none;
        foreach (var property in properties.EnumerateObject())
        {
            var key = b.Sequence(b.Literal(Serialize(property.Name)), b.Literal(":"), ConstraintCompiler.Space(b));
            string valuePath = $"{path}/properties/{property.Name}";
            int nextNone = b.Rule.NewState();
            int nextSome = b.Rule.NewState();

            var first = b.Sequence(key, Build(b, property.Value, valuePath));
            b.Rule.Epsilon(none, first.Start);
            b.Rule.Epsilon(first.End, nextSome);

            var later = b.Sequence(b.Literal(","), ConstraintCompiler.Space(b), b.Sequence(b.Literal(Serialize(property.Name)), b.Literal(":"), ConstraintCompiler.Space(b)), Build(b, property.Value, valuePath));
            b.Rule.Epsilon(some, later.Start);
            b.Rule.Epsilon(later.End, nextSome);

            if (!required.Contains(property.Name))
            {
                b.Rule.Epsilon(none, nextNone);
                b.Rule.Epsilon(some, nextSome);
            }

            none = nextNone;
            some = nextSome;
        }

        int end = b.Rule.NewState();
        b.Rule.Epsilon(none, end);
        b.Rule.Epsilon(some, end);
        var open = b.Literal("{");
        var close = b.Literal("}");
        b.Rule.Epsilon(open.End, start);
        b.Rule.Epsilon(end, close.Start);
        return new Fragment(open.Start, close.End);
    }

    private Fragment AnyObject(RuleBuilder b)
    {
        Fragment Member() => b.Sequence(b.Call(_compiler.JsonString), b.Literal(":"), ConstraintCompiler.Space(b), b.Call(_compiler.JsonValue));
        var members = b.Sequence(Member(), b.Star(b.Sequence(b.Literal(","), ConstraintCompiler.Space(b), Member())));
        return b.Sequence(b.Literal("{"), b.Optional(members), b.Literal("}"));
    }

    private GrammarRule Resolve(string reference, string path)
    {
        if (_refs.TryGetValue(reference, out var rule))
        {
            return rule;
        }

        if (reference != "#" && !reference.StartsWith("#/", StringComparison.Ordinal))
        {
            throw new NotSupportedException($"JSON schema $ref '{reference}' (at {path}) is not supported by constrained decoding: only references inside the document ('#', '#/$defs/<name>', '#/properties/<name>'...).");
        }

        // A JSON pointer into this document (System.Text.Json's exporter writes '#/properties/x' for recursive types).
        var target = _root;
        foreach (string token in reference.Length > 2 ? reference[2..].Split('/') : [])
        {
            string name = Uri.UnescapeDataString(token).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            bool found = target.ValueKind switch
            {
                JsonValueKind.Object => target.TryGetProperty(name, out target),
                JsonValueKind.Array when int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < target.GetArrayLength() => (target = target[index]).ValueKind != JsonValueKind.Undefined,
                _ => false,
            };
            if (!found)
            {
                throw new ArgumentException($"JSON schema $ref '{reference}' (at {path}) points to nothing.", "schema");
            }
        }

        var builder = _compiler.NewRule("ref " + reference);
        _refs[reference] = builder.Rule; // registered before building: the target may refer to itself
        builder.Complete(Build(builder, target, reference));
        return builder.Rule;
    }

    private static void RequireAlone(JsonElement schema, string keyword, string path)
    {
        foreach (var property in schema.EnumerateObject())
        {
            if (property.Name != keyword && !Annotations.Contains(property.Name))
            {
                throw new NotSupportedException($"JSON schema at {path}: '{keyword}' beside '{property.Name}' is not supported by constrained decoding.");
            }
        }
    }

    private static int? OptionalInt(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n) || n < 0)
        {
            throw new ArgumentException($"JSON schema '{keyword}' at {path} must be a non-negative integer.", "schema");
        }

        return n;
    }

    private static string Serialize(JsonElement value) => JsonSerializer.Serialize(value, Writer);

    private static string Serialize(string value) => JsonSerializer.Serialize(value, Writer);
}

/// <summary>Decimal integers within [min, max] (either bound optional), without leading zeros or "-0".</summary>
internal static class IntegerRange
{
    public static Fragment Build(RuleBuilder b, long? min, long? max)
    {
        if (min > max)
        {
            return b.Alternatives([]);
        }

        var parts = new List<Fragment>();
        if (min is null || min < 0)
        {
            // Negative values: "-" then the magnitude in [max(1, -max), -min].
            long lo = Math.Max(1, max is { } m ? -m : 1);
            long? hi = min is { } n ? -n : null;
            if (hi is null || lo <= hi)
            {
                parts.Add(b.Sequence(b.Literal("-"), Natural(b, lo, hi)));
            }
        }

        if (max is null || max >= 0)
        {
            parts.Add(Natural(b, Math.Max(0, min ?? 0), max));
        }

        return parts.Count == 1 ? parts[0] : b.Alternatives(parts);
    }

    /// <summary>Naturals in [lo, hi] (hi null = unbounded), split by digit count.</summary>
    private static Fragment Natural(RuleBuilder b, long lo, long? hi)
    {
        var parts = new List<Fragment>();
        int loDigits = Digits(lo);
        int hiDigits = hi is { } h ? Digits(h) : loDigits;
        for (int length = loDigits; length <= hiDigits; length++)
        {
            long from = length == loDigits ? lo : Pow10(length - 1);
            long to = hi is { } top && length == hiDigits ? top : Pow10(length) - 1;
            parts.Add(SameLength(b, from.ToString(CultureInfo.InvariantCulture), to.ToString(CultureInfo.InvariantCulture)));
        }

        if (hi is null)
        {
            // Any number with more digits than lo.
            var digit = CodePointSet.Of(('0', '9'));
            parts.Add(b.Sequence(b.Characters(CodePointSet.Of(('1', '9'))), b.Repeat(() => b.Characters(digit), loDigits, null, "integer")));
        }

        return parts.Count == 1 ? parts[0] : b.Alternatives(parts);
    }

    /// <summary>Digit strings of one length between lo and hi (inclusive).</summary>
    private static Fragment SameLength(RuleBuilder b, string lo, string hi)
    {
        if (lo.Length == 1)
        {
            return b.Characters(CodePointSet.Of((lo[0], hi[0])));
        }

        if (lo[0] == hi[0])
        {
            return b.Sequence(b.Literal(lo[..1]), SameLength(b, lo[1..], hi[1..]));
        }

        var digit = CodePointSet.Of(('0', '9'));
        var parts = new List<Fragment>
        {
            b.Sequence(b.Literal(lo[..1]), SameLength(b, lo[1..], new string('9', lo.Length - 1))),
        };
        if (hi[0] - lo[0] > 1)
        {
            parts.Add(b.Sequence(b.Characters(CodePointSet.Of((lo[0] + 1, hi[0] - 1))), b.Repeat(() => b.Characters(digit), lo.Length - 1, lo.Length - 1, "integer")));
        }

        parts.Add(b.Sequence(b.Literal(hi[..1]), SameLength(b, new string('0', hi.Length - 1), hi[1..])));
        return b.Alternatives(parts);
    }

    private static int Digits(long n) => n.ToString(CultureInfo.InvariantCulture).Length;

    private static long Pow10(int n)
    {
        long p = 1;
        for (int i = 0; i < n; i++)
        {
            p *= 10;
        }

        return p;
    }
}
