namespace LlmKit.Plugins.FewShot.Selection;

/// <summary>
/// For classification: wraps a selector and takes its best examples in turn from each label (round robin, labels
/// ordered by their best-ranked example), so k examples cover the labels as evenly as the pool allows and one
/// class cannot crowd out the others. Examples without a label form one group of their own. The chosen examples are
/// returned in the inner selector's order, with its scores.
/// </summary>
/// <remarks>Thread-safe when the inner selector is.</remarks>
public sealed class LabelBalancedSelector : IFewShotSelector
{
    private readonly IFewShotSelector _inner;

    /// <summary>Creates the wrapper.</summary>
    /// <param name="inner">The selector whose ranking is balanced.</param>
    /// <param name="candidateMultiplier">The inner selector is asked for count × this many candidates (1 to 1000). Default 10.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="candidateMultiplier"/> is outside its range.</exception>
    public LabelBalancedSelector(IFewShotSelector inner, int candidateMultiplier = 10)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (candidateMultiplier is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(candidateMultiplier), candidateMultiplier, "candidateMultiplier must be between 1 and 1000.");
        }

        _inner = inner;
        CandidateMultiplier = candidateMultiplier;
    }

    /// <summary>Multiplier for the number of candidates asked of the inner selector.</summary>
    public int CandidateMultiplier { get; }

    /// <inheritdoc />
    public async Task<IReadOnlyList<SelectedExample>> SelectAsync(string input, int count, CancellationToken cancellationToken = default)
    {
        SelectorGuard.CheckArguments(input, count);
        int candidateCount = (int)Math.Min(int.MaxValue, (long)count * CandidateMultiplier);
        var candidates = await _inner.SelectAsync(input, candidateCount, cancellationToken).ConfigureAwait(false);

        // Groups keep the inner order, and groups themselves are ordered by their best example.
        var groups = new List<Queue<int>>();
        var groupOfLabel = new Dictionary<string, Queue<int>>(StringComparer.Ordinal);
        for (int rank = 0; rank < candidates.Count; rank++)
        {
            string key = candidates[rank].Example.Label ?? "\0unlabelled";
            if (!groupOfLabel.TryGetValue(key, out var group))
            {
                groupOfLabel[key] = group = new Queue<int>();
                groups.Add(group);
            }

            group.Enqueue(rank);
        }

        var chosen = new List<int>(Math.Min(count, candidates.Count));
        while (chosen.Count < count)
        {
            bool tookAny = false;
            foreach (var group in groups)
            {
                if (chosen.Count < count && group.TryDequeue(out int next))
                {
                    chosen.Add(next);
                    tookAny = true;
                }
            }

            if (!tookAny)
            {
                break;
            }
        }

        chosen.Sort();
        var result = new SelectedExample[chosen.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = candidates[chosen[i]];
        }

        return result;
    }
}
