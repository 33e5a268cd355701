using LlmKit.Plugins.FewShot.Rendering;

namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>
/// Settings bound by <c>AddFewShot</c>, e.g. from the configuration section <c>LlmKit:FewShot</c>.
/// Invalid values fail with an <see cref="Microsoft.Extensions.Options.OptionsValidationException"/> naming the setting.
/// </summary>
public sealed class FewShotOptions
{
    /// <summary>The configuration section read by default.</summary>
    public const string SectionName = "LlmKit:FewShot";

    /// <summary>The most examples one prompt may ask for.</summary>
    public const int MaxCount = 64;

    /// <summary>Optional example file (.jsonl, .csv or .tsv) loaded into the store when it is first resolved.</summary>
    public string? ExamplesPath { get; set; }

    /// <summary>Examples per prompt; 1 to 64. Default 4.</summary>
    public int Count { get; set; } = 4;

    /// <summary>Which selector to use. Default <see cref="FewShotSelectorKind.Similarity"/>.</summary>
    public FewShotSelectorKind Selector { get; set; } = FewShotSelectorKind.Similarity;

    /// <summary>MMR relevance weight λ in [0, 1]. Default 0.5.</summary>
    public double MmrLambda { get; set; } = 0.5;

    /// <summary>MMR candidate pool size; at least 1. Default 20.</summary>
    public int MmrFetchCount { get; set; } = 20;

    /// <summary>Seed of the random selector.</summary>
    public int Seed { get; set; }

    /// <summary>Balance labels among the selected examples (classification tasks). Default false.</summary>
    public bool BalanceLabels { get; set; }

    /// <summary>
    /// Token budget for all examples of one prompt, counted with the registered <see cref="Microsoft.ML.Tokenizers.Tokenizer"/>;
    /// null (default) for no budget; otherwise at least 1.
    /// </summary>
    public int? MaxExampleTokens { get; set; }

    /// <summary>Chat-template tokens counted per example on top of its text (≥ 0). Default 0.</summary>
    public int PerExampleOverheadTokens { get; set; }

    /// <summary>Optional instruction placed before the examples as a system message.</summary>
    public string? Instruction { get; set; }

    /// <summary>Where the best example goes. Default <see cref="ExampleOrdering.MostSimilarLast"/>.</summary>
    public ExampleOrdering Ordering { get; set; } = ExampleOrdering.MostSimilarLast;

    /// <summary>Name under which <c>AddFewShotPlugin</c> registers the kernel plugin. Default "FewShot".</summary>
    public string PluginName { get; set; } = "FewShot";
}
