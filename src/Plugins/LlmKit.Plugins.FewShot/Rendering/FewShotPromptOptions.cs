namespace LlmKit.Plugins.FewShot.Rendering;

/// <summary>How selected examples become a prompt.</summary>
public sealed record FewShotPromptOptions
{
    /// <summary>Optional instruction sent as a system message (or a text prefix) before the examples.</summary>
    public string? Instruction { get; init; }

    /// <summary>Where the best example goes. Default <see cref="ExampleOrdering.MostSimilarLast"/>.</summary>
    public ExampleOrdering Ordering { get; init; } = ExampleOrdering.MostSimilarLast;
}
