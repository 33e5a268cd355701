using LlmKit.Plugins.FewShot.Storage;

namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// The baseline: distinct examples drawn uniformly at random. Reproducible — the draw depends only on the seed and
/// the input text (same input, same examples), yet different inputs get different examples. Scores are 0.
/// </summary>
/// <remarks>Thread-safe (each call uses its own generator).</remarks>
public sealed class RandomSelector : IFewShotSelector
{
    private readonly FewShotExampleStore _store;

    /// <summary>Creates a random selector.</summary>
    /// <param name="store">The example pool.</param>
    /// <param name="seed">Seed of the draws.</param>
    public RandomSelector(FewShotExampleStore store, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        Seed = seed;
    }

    /// <summary>Seed of the draws.</summary>
    public int Seed { get; }

    /// <inheritdoc />
    public Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        cancellationToken.ThrowIfCancellationRequested();
        var examples = _store.Examples;
        int take = Math.Min(count, examples.Count);
        // Not HashCode.Combine: it is randomised per process, which would break reproducibility across runs.
        var random = new Random(unchecked((Seed * -1640531535) ^ TextTerms.StableHash(input)));
        // Partial Fisher-Yates over an index array: the first `take` slots become a uniform sample without replacement.
        var indices = new int[examples.Count];
        for (int i = 0; i < indices.Length; i++)
        {
            indices[i] = i;
        }

        var result = new SelectedExample[take];
        for (int i = 0; i < take; i++)
        {
            int j = random.Next(i, indices.Length);
            (indices[i], indices[j]) = (indices[j], indices[i]);
            result[i] = new SelectedExample(examples[indices[i]], 0);
        }

        return Task.FromResult<IReadOnlyList<SelectedExample>>(result);
    }
}
