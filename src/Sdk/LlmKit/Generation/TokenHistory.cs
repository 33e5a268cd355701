namespace LlmKit.Generation;

/// <summary>The tokens of a sequence so far, split into prompt and generated parts (a view; no copy).</summary>
public readonly ref struct TokenHistory
{
    /// <summary>Creates a view over <paramref name="all"/> whose first <paramref name="promptLength"/> tokens are the prompt.</summary>
    public TokenHistory(ReadOnlySpan<int> all, int promptLength)
    {
        All = all;
        PromptLength = promptLength;
    }

    /// <summary>Prompt and generated tokens.</summary>
    public ReadOnlySpan<int> All { get; }

    /// <summary>Number of prompt tokens at the start of <see cref="All"/>.</summary>
    public int PromptLength { get; }

    /// <summary>Generated tokens only.</summary>
    public ReadOnlySpan<int> Generated => All[PromptLength..];
}
