using System.Text.Json;

namespace LlmKit.Generation.Constraints;

/// <summary>
/// What a constrained generation may produce: a description of a language over the output's UTF-8 bytes. Set it as
/// <see cref="GenerationOptions.Constraint"/>; the generator then masks every token whose bytes would leave the language,
/// allows end-of-sequence exactly when the output so far is complete, and steers to the shortest completion when the
/// token budget runs short (see docs/constrained-decoding.md).
/// </summary>
/// <remarks>
/// Immutable and thread-safe: one instance may serve any number of generations and models at once. It is compiled to
/// an automaton on first use, and the compiled form is cached on the instance, so reuse instances rather than building
/// equal ones per request. The output is matched byte for byte: no whitespace is implied except where a factory says so.
/// </remarks>
public abstract class OutputConstraint
{
    private Grammar? _grammar;

    private protected OutputConstraint()
    {
    }

    /// <summary>A short human-readable description (for logs and errors).</summary>
    public abstract string Description { get; }

    // Two threads may compile at once; one result wins and both are equal.
    internal Grammar Grammar => Volatile.Read(ref _grammar) ?? Interlocked.CompareExchange(ref _grammar, ConstraintCompiler.Compile(this), null) ?? _grammar!;

    /// <summary>
    /// Any JSON value (object, array, string, number, true, false, null). Written compactly: an optional leading space,
    /// at most one space after ':' and ',' and none elsewhere; nesting is limited to <see cref="MaxNestingDepth"/>.
    /// </summary>
    public static OutputConstraint Json() => JsonValueConstraint.Instance;

    /// <summary>
    /// A JSON document valid against a JSON Schema (see <see cref="JsonSchema(JsonElement)"/> for the subset).
    /// </summary>
    /// <exception cref="ArgumentException">The text is not JSON.</exception>
    /// <exception cref="NotSupportedException">The schema uses a keyword outside the subset (the message names it).</exception>
    public static OutputConstraint JsonSchema(string schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        JsonElement element;
        try
        {
            using var document = JsonDocument.Parse(schema);
            element = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The JSON schema is not valid JSON: {e.Message}", nameof(schema), e);
        }

        return JsonSchema(element);
    }

    /// <summary>
    /// A JSON document valid against a JSON Schema. Supported: <c>type</c> (one or a list) <c>object</c> with
    /// <c>properties</c>, <c>required</c>, <c>additionalProperties</c>; <c>string</c> with <c>enum</c>/<c>const</c>,
    /// <c>pattern</c> (the <see cref="Regex"/> subset, matched against the whole value) or <c>minLength</c>/<c>maxLength</c>;
    /// <c>number</c>; <c>integer</c> with <c>minimum</c>/<c>maximum</c>/<c>exclusiveMinimum</c>/<c>exclusiveMaximum</c>;
    /// <c>boolean</c>; <c>null</c>; <c>array</c> with <c>items</c> and <c>minItems</c>/<c>maxItems</c>; <c>enum</c> and
    /// <c>const</c> of any value; <c>anyOf</c>; <c>$ref</c> to <c>#</c> or <c>#/$defs/...</c> (recursion allowed).
    /// Annotations (<c>title</c>, <c>description</c>, <c>default</c>, <c>format</c>, <c>$schema</c>...) are ignored.
    /// Properties are written in schema order (optional ones may be left out) and no other property is written.
    /// </summary>
    /// <exception cref="NotSupportedException">The schema uses a keyword outside the subset (checked now; the message names it).</exception>
    /// <exception cref="ArgumentException">The schema is malformed (for example a dangling <c>$ref</c>).</exception>
    public static OutputConstraint JsonSchema(JsonElement schema)
    {
        var constraint = new JsonSchemaConstraint(schema.Clone());
        _ = constraint.Grammar; // compile now so unsupported keywords throw at the call
        return constraint;
    }

    /// <summary>
    /// Text matching a regular expression as a whole (anchors implied). Subset: literal characters, escapes
    /// <c>\d \w \s \D \W \S</c> (ASCII classes), <c>\n \r \t \f \v \uXXXX \xXX</c> and escaped punctuation, classes
    /// <c>[a-z]</c>/<c>[^...]</c>, <c>.</c> (any character but a newline), groups <c>(...)</c> and <c>(?:...)</c>,
    /// alternation <c>|</c>, quantifiers <c>? * + {m} {m,} {m,n}</c> (bounds up to 1000; lazy forms accepted).
    /// </summary>
    /// <exception cref="NotSupportedException">The pattern uses a construct outside the subset (the message names it).</exception>
    public static OutputConstraint Regex(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var constraint = new RegexConstraint(pattern, RegexSubset.Parse(pattern));
        _ = constraint.Grammar;
        return constraint;
    }

    /// <summary>Exactly one of the given strings.</summary>
    /// <exception cref="ArgumentException">No options, or an option is null.</exception>
    public static OutputConstraint Choice(IEnumerable<string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var list = options.ToArray();
        if (list.Length == 0 || list.Any(o => o is null))
        {
            throw new ArgumentException("A choice needs at least one option and no null option.", nameof(options));
        }

        return new ChoiceConstraint(list);
    }

    /// <summary>Exactly this text.</summary>
    public static OutputConstraint Literal(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new ChoiceConstraint([text]);
    }

    /// <summary>The parts one after another.</summary>
    /// <exception cref="ArgumentException">No parts, or a null part.</exception>
    public static OutputConstraint Sequence(params OutputConstraint[] parts) => new CompositeConstraint(Check(parts, nameof(parts)), sequence: true);

    /// <summary>Any one of the alternatives.</summary>
    /// <exception cref="ArgumentException">No alternatives, or a null one.</exception>
    public static OutputConstraint AnyOf(params OutputConstraint[] alternatives) => new CompositeConstraint(Check(alternatives, nameof(alternatives)), sequence: false);

    /// <summary>
    /// Either free text that does not start with <paramref name="marker"/> (any characters, complete at any point, so
    /// end-of-sequence may follow; a proper prefix of the marker alone is free text too), or <paramref name="marker"/>
    /// followed by <paramref name="afterMarker"/>. Tool calling's automatic mode uses it: text or a call.
    /// </summary>
    /// <exception cref="ArgumentException">The marker is empty.</exception>
    public static OutputConstraint TextOr(string marker, OutputConstraint afterMarker)
    {
        ArgumentException.ThrowIfNullOrEmpty(marker);
        ArgumentNullException.ThrowIfNull(afterMarker);
        return new TextOrConstraint(marker, afterMarker);
    }

    /// <summary>Deepest nesting of calls (JSON objects and arrays, <c>$ref</c>s) a matcher follows; deeper outputs are not produced.</summary>
    public const int MaxNestingDepth = 64;

    /// <inheritdoc />
    public override string ToString() => Description;

    internal abstract Fragment Build(ConstraintCompiler compiler, RuleBuilder builder);

    /// <summary>
    /// The same language as an onnxruntime-genai guidance request (<c>GeneratorParams.SetGuidance</c> type and data,
    /// read by llguidance), or null when llguidance cannot express it identically.
    /// </summary>
    internal virtual (string Type, string Data)? Guidance => null;

    private static OutputConstraint[] Check(OutputConstraint[] parts, string name)
    {
        ArgumentNullException.ThrowIfNull(parts, name);
        if (parts.Length == 0 || parts.Any(p => p is null))
        {
            throw new ArgumentException("At least one constraint is needed and none may be null.", name);
        }

        return [.. parts];
    }

    private sealed class JsonValueConstraint : OutputConstraint
    {
        public static readonly JsonValueConstraint Instance = new();

        public override string Description => "any JSON value";

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder) =>
            builder.Sequence(builder.Optional(builder.Literal(" ")), builder.Call(compiler.JsonValue));
    }

    private sealed class JsonSchemaConstraint(JsonElement schema) : OutputConstraint
    {
        public override string Description => "JSON schema " + Truncate(schema.GetRawText());

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder) =>
            builder.Sequence(builder.Optional(builder.Literal(" ")), new JsonSchemaCompiler(compiler, schema).Build(builder));
    }

    private sealed class RegexConstraint(string pattern, RegexNode node) : OutputConstraint
    {
        public override string Description => "regex " + Truncate(pattern);

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder) => RegexSubset.Build(node, builder, builder.Characters);

        // Written once: the engine reads it when it checks a request and again when it runs it.
        internal override (string Type, string Data)? Guidance => field ??= ("regex", LlguidanceRegex.From(node));
    }

    private sealed class ChoiceConstraint(string[] options) : OutputConstraint
    {
        public override string Description => options.Length == 1 ? "literal " + Truncate(options[0]) : "one of " + Truncate(string.Join(" | ", options));

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder) =>
            options.Length == 1 ? builder.Literal(options[0]) : builder.Alternatives([.. options.Select(builder.Literal)]);

        internal override (string Type, string Data)? Guidance => field ??= ("regex", LlguidanceRegex.FromChoices(options));
    }

    private sealed class CompositeConstraint(OutputConstraint[] parts, bool sequence) : OutputConstraint
    {
        public override string Description => (sequence ? "sequence(" : "any of(") + string.Join(", ", parts.Select(p => p.Description)) + ")";

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder)
        {
            var fragments = parts.Select(p => p.Build(compiler, builder)).ToArray();
            return sequence ? builder.Sequence(fragments) : builder.Alternatives(fragments);
        }
    }

    private sealed class TextOrConstraint(string marker, OutputConstraint afterMarker) : OutputConstraint
    {
        public override string Description => $"text or '{marker}' then {afterMarker.Description}";

        internal override Fragment Build(ConstraintCompiler compiler, RuleBuilder builder)
        {
            // Free text: i characters of the marker (i < its length), then optionally a character that differs from the
            // marker's next one followed by anything.
            var runes = marker.EnumerateRunes().ToArray();
            var free = new List<Fragment>();
            var any = CodePointSet.All();
            for (int i = 0; i < runes.Length; i++)
            {
                var prefix = builder.Literal(string.Concat(runes.Take(i).Select(r => r.ToString())));
                var other = any.Except(runes[i].Value, runes[i].Value);
                var rest = builder.Optional(builder.Sequence(builder.Characters(other), builder.Star(builder.Characters(any))));
                free.Add(builder.Sequence(prefix, rest));
            }

            var call = builder.Sequence(builder.Literal(marker), afterMarker.Build(compiler, builder));
            return builder.Alternatives([builder.Alternatives(free), call]);
        }
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
}
