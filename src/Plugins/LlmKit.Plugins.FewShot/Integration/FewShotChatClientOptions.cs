using LlmKit.Plugins.FewShot.Rendering;

namespace LlmKit.Plugins.FewShot.Integration;

/// <summary>Settings of <see cref="FewShotChatClient"/>.</summary>
public sealed class FewShotChatClientOptions
{
    /// <summary>Examples injected per request; 1 to 64. Default 4.</summary>
    public int Count { get; set; } = 4;

    /// <summary>Optional instruction injected as a system message before the examples.</summary>
    public string? Instruction { get; set; }

    /// <summary>Where the best example goes. Default <see cref="ExampleOrdering.MostSimilarLast"/>.</summary>
    public ExampleOrdering Ordering { get; set; } = ExampleOrdering.MostSimilarLast;

    internal void Validate()
    {
        if (Count is < 1 or > FewShotOptions.MaxCount)
        {
            throw new ArgumentOutOfRangeException(nameof(Count), Count, $"Count must be between 1 and {FewShotOptions.MaxCount}.");
        }

        if (!Enum.IsDefined(Ordering))
        {
            throw new ArgumentOutOfRangeException(nameof(Ordering), Ordering, "Ordering must be MostSimilarLast or MostSimilarFirst.");
        }
    }
}
