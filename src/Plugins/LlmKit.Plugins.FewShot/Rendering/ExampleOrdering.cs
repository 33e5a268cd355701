namespace LlmKit.Plugins.FewShot.Rendering;

/// <summary>Where the best example goes in the prompt.</summary>
public enum ExampleOrdering
{
    /// <summary>Best example last, right before the real input (recency helps small models most). The default.</summary>
    MostSimilarLast = 0,

    /// <summary>Best example first, in the selector's ranking order.</summary>
    MostSimilarFirst = 1,
}
