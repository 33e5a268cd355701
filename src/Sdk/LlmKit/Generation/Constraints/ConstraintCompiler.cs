namespace LlmKit.Generation.Constraints;

/// <summary>Turns an <see cref="OutputConstraint"/> into a <see cref="Grammar"/>; owns the shared JSON rules.</summary>
internal sealed class ConstraintCompiler
{
    private readonly List<GrammarRule> _rules = [];
    private GrammarRule? _jsonValue;
    private GrammarRule? _jsonString;
    private GrammarRule? _jsonStringCharacter;

    public static Grammar Compile(OutputConstraint constraint)
    {
        var compiler = new ConstraintCompiler();
        var root = compiler.NewRule("root");
        root.Complete(constraint.Build(compiler, root));
        return new Grammar(root.Rule, compiler._rules);
    }

    public RuleBuilder NewRule(string name)
    {
        var rule = new GrammarRule(name);
        _rules.Add(rule);
        return new RuleBuilder(rule);
    }

    /// <summary>Any JSON value (a recursive rule shared by every use).</summary>
    public GrammarRule JsonValue => _jsonValue ??= BuildJsonValue();

    /// <summary>A JSON string with its quotes (any content, escapes included).</summary>
    public GrammarRule JsonString => _jsonString ??= BuildJsonString();

    /// <summary>
    /// One JSON string character as a rule of its own, for strings with a length bound: each counted position calls it
    /// instead of holding a copy of its ~50 states (a maxLength-12 string in an 8-item array would otherwise unroll
    /// thousands of states).
    /// </summary>
    public GrammarRule JsonStringCharacter => _jsonStringCharacter ??= BuildJsonStringCharacter();

    /// <summary>Characters allowed unescaped inside a JSON string.</summary>
    public static CodePointSet PlainStringCharacters { get; } = CodePointSet.All().Except(0, 0x1F).Except('"', '"').Except('\\', '\\');

    /// <summary>The optional single space allowed after ':' and ',' (models like to write it; more would only waste tokens).</summary>
    public static Fragment Space(RuleBuilder b) => b.Optional(b.Literal(" "));

    /// <summary>One JSON string character: a plain character or an escape (no lone-surrogate \u escapes).</summary>
    public static Fragment StringCharacter(RuleBuilder b)
    {
        var hex = CodePointSet.Of(('0', '9'), ('A', 'F'), ('a', 'f'));
        var hexNoD = CodePointSet.Of(('0', '9'), ('A', 'C'), ('E', 'F'), ('a', 'c'), ('e', 'f'));
        var unicode = b.Alternatives([
            b.Sequence(b.Characters(hexNoD), b.Characters(hex), b.Characters(hex), b.Characters(hex)),
            b.Sequence(b.Characters(CodePointSet.Of(('D', 'D'), ('d', 'd'))), b.Characters(CodePointSet.Of(('0', '7'))), b.Characters(hex), b.Characters(hex)),
        ]);
        var escape = b.Sequence(
            b.Literal("\\"),
            b.Alternatives([b.Characters(CodePointSet.Of(('"', '"'), ('\\', '\\'), ('/', '/'), ('b', 'b'), ('f', 'f'), ('n', 'n'), ('r', 'r'), ('t', 't'))), b.Sequence(b.Literal("u"), unicode)]));
        return b.Alternatives([b.Characters(PlainStringCharacters), escape]);
    }

    /// <summary>
    /// Characters of <paramref name="set"/> as they appear inside a JSON string: plain where JSON allows, otherwise
    /// escaped (<c>\"</c>, <c>\\</c>, <c>\n</c>, <c>\u001F</c>...), so a pattern constrains the decoded value.
    /// </summary>
    public static Fragment JsonStringCharacters(RuleBuilder b, CodePointSet set)
    {
        var parts = new List<Fragment>();
        var plain = new CodePointSet();
        foreach (var (lo, hi) in set.Ranges)
        {
            for (int cp = lo; cp <= Math.Min(hi, 0x5C); cp++)
            {
                if (cp < 0x20 || cp == '"' || cp == '\\')
                {
                    parts.Add(b.Literal(System.Text.Json.JsonSerializer.Serialize(((char)cp).ToString())[1..^1]));
                }
            }
        }

        foreach (var (lo, hi) in PlainStringCharacters.Ranges)
        {
            foreach (var (a, c) in set.Ranges)
            {
                int from = Math.Max(lo, a), to = Math.Min(hi, c);
                if (from <= to)
                {
                    plain.Add(from, to);
                }
            }
        }

        if (plain.Ranges.Count > 0)
        {
            parts.Add(b.Characters(plain));
        }

        return parts.Count == 1 ? parts[0] : b.Alternatives(parts);
    }

    public static Fragment Number(RuleBuilder b)
    {
        var digit = CodePointSet.Of(('0', '9'));
        var integer = Integer(b);
        var fraction = b.Optional(b.Sequence(b.Literal("."), b.Repeat(() => b.Characters(digit), 1, null, "number")));
        var exponent = b.Optional(b.Sequence(
            b.Characters(CodePointSet.Of(('E', 'E'), ('e', 'e'))),
            b.Optional(b.Characters(CodePointSet.Of(('+', '+'), ('-', '-')))),
            b.Repeat(() => b.Characters(digit), 1, null, "number")));
        return b.Sequence(integer, fraction, exponent);
    }

    public static Fragment Integer(RuleBuilder b) => b.Sequence(b.Optional(b.Literal("-")), NaturalNumber(b));

    private static Fragment NaturalNumber(RuleBuilder b) => b.Alternatives([
        b.Literal("0"),
        b.Sequence(b.Characters(CodePointSet.Of(('1', '9'))), b.Star(b.Characters(CodePointSet.Of(('0', '9'))))),
    ]);

    private GrammarRule BuildJsonString()
    {
        var b = NewRule("json-string");
        b.Complete(b.Sequence(b.Literal("\""), b.Star(StringCharacter(b)), b.Literal("\"")));
        return b.Rule;
    }

    private GrammarRule BuildJsonStringCharacter()
    {
        var b = NewRule("json-string-character");
        b.Complete(StringCharacter(b));
        return b.Rule;
    }

    private GrammarRule BuildJsonValue()
    {
        var b = NewRule("json-value");
        _jsonValue = b.Rule; // set before building: objects and arrays call it recursively
        var member = b.Sequence(b.Call(JsonString), b.Literal(":"), Space(b), b.Call(b.Rule));
        var members = b.Sequence(member, b.Star(b.Sequence(b.Literal(","), Space(b), b.Sequence(b.Call(JsonString), b.Literal(":"), Space(b), b.Call(b.Rule)))));
        var obj = b.Sequence(b.Literal("{"), b.Optional(members), b.Literal("}"));
        var items = b.Sequence(b.Call(b.Rule), b.Star(b.Sequence(b.Literal(","), Space(b), b.Call(b.Rule))));
        var array = b.Sequence(b.Literal("["), b.Optional(items), b.Literal("]"));
        b.Complete(b.Alternatives([obj, array, b.Call(JsonString), Number(b), b.Literal("true"), b.Literal("false"), b.Literal("null")]));
        return b.Rule;
    }
}
