namespace LlmKit.Chat.Templates.Jinja;

/// <summary>
/// A parsed Jinja2 template (the subset Hugging Face chat templates use). Immutable and thread-safe: each
/// <see cref="Render"/> runs with its own state.
/// </summary>
internal sealed class JinjaTemplate
{
    /// <summary>Longer template sources are refused before parsing.</summary>
    public const int MaxSourceLength = 1024 * 1024;

    private readonly IReadOnlyList<Node> _body;

    private JinjaTemplate(string source, IReadOnlyList<Node> body)
    {
        Source = source;
        _body = body;
    }

    public string Source { get; }

    /// <summary>Parses <paramref name="source"/>.</summary>
    /// <exception cref="ChatTemplateException">The source is too long or not valid in the supported subset; the message names the line.</exception>
    public static JinjaTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Length > MaxSourceLength)
        {
            throw new ChatTemplateException($"The chat template is {source.Length} characters long; at most {MaxSourceLength} are accepted.");
        }

        try
        {
            return new JinjaTemplate(source, JinjaParser.Parse(source));
        }
        catch (Exception ex) when (ex is not ChatTemplateException and not OutOfMemoryException)
        {
            // Malformed input the parser did not anticipate is still a template error, never a crash of the caller.
            throw new ChatTemplateException($"The chat template could not be parsed: {ex.Message}", ex);
        }
    }

    /// <summary>Renders with <paramref name="context"/> as the template's variables.</summary>
    /// <exception cref="ChatTemplateException">The template raised an error, failed, or exceeded a limit.</exception>
    public string Render(IReadOnlyDictionary<string, object?> context, JinjaLimits? limits = null, TimeProvider? clock = null) =>
        new JinjaRenderer(limits ?? JinjaLimits.Default, clock ?? TimeProvider.System).Render(_body, context);
}
