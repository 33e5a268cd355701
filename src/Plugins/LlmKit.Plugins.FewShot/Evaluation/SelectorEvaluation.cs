using System.Diagnostics;
using LlmKit.Plugins.FewShot.Selection;

namespace LlmKit.Plugins.FewShot.Evaluation;

/// <summary>A proportion with its 95% confidence interval.</summary>
/// <param name="Value">The estimate, in [0, 1].</param>
/// <param name="Low">Lower end of the 95% interval.</param>
/// <param name="High">Upper end of the 95% interval.</param>
public readonly record struct Estimate(double Value, double Low, double High);

/// <summary>How well a selector's examples match held-out labelled queries.</summary>
/// <param name="Queries">Number of queries evaluated.</param>
/// <param name="LabelAgreement">
/// Share of selected examples whose label equals the query's label (mean over queries of the per-query share; the interval
/// is mean ± 1.96 standard errors across queries, since the k selections of one query are not independent).
/// </param>
/// <param name="KnnAccuracy">
/// Share of queries whose majority label among the selected examples equals the query's label (ties go to the
/// best-ranked tied label; no examples counts as wrong). Wilson 95% interval.
/// </param>
/// <param name="MillisecondsPerQuery">Mean wall time of one selection.</param>
public sealed record SelectorEvaluationResult(int Queries, Estimate LabelAgreement, Estimate KnnAccuracy, double MillisecondsPerQuery);

/// <summary>Evaluates selectors on labelled data: do they pick examples that share the query's label?</summary>
public static class SelectorEvaluation
{
    private const double Z95 = 1.959964;

    /// <summary>Runs <paramref name="selector"/> once per query (sequentially) and scores the selections.</summary>
    /// <param name="selector">The selector, whose pool should not contain the queries.</param>
    /// <param name="queries">Labelled held-out examples; every one needs a label.</param>
    /// <param name="count">Examples per query; at least 1.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <exception cref="ArgumentException">There are no queries, or a query has no label.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1.</exception>
    public static async Task<SelectorEvaluationResult> EvaluateAsync(
        IFewShotSelector selector, IReadOnlyList<FewShotExample> queries, int count, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Count == 0)
        {
            throw new ArgumentException("At least one query is needed.", nameof(queries));
        }

        if (queries.Any(q => q.Label is null))
        {
            throw new ArgumentException("Every query needs a label.", nameof(queries));
        }

        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "count must be at least 1.");
        }

        var agreements = new double[queries.Count];
        int knnCorrect = 0;
        long elapsed = 0;
        for (int q = 0; q < queries.Count; q++)
        {
            long start = Stopwatch.GetTimestamp();
            var selected = await selector.SelectAsync(queries[q].Input, count, cancellationToken).ConfigureAwait(false);
            elapsed += Stopwatch.GetTimestamp() - start;

            string label = queries[q].Label!;
            int same = selected.Count(s => s.Example.Label == label);
            agreements[q] = selected.Count == 0 ? 0 : (double)same / selected.Count;
            if (MajorityLabel(selected) == label)
            {
                knnCorrect++;
            }
        }

        return new SelectorEvaluationResult(
            queries.Count,
            MeanWithInterval(agreements),
            Wilson(knnCorrect, queries.Count),
            Stopwatch.GetElapsedTime(0, elapsed).TotalMilliseconds / queries.Count);
    }

    /// <summary>The most frequent label among <paramref name="selected"/>; ties go to the label seen first (best ranked).</summary>
    public static string? MajorityLabel(IReadOnlyList<SelectedExample> selected)
    {
        ArgumentNullException.ThrowIfNull(selected);
        var votes = new Dictionary<string, (int Votes, int FirstRank)>(StringComparer.Ordinal);
        for (int i = 0; i < selected.Count; i++)
        {
            if (selected[i].Example.Label is { } label)
            {
                votes[label] = votes.TryGetValue(label, out var v) ? (v.Votes + 1, v.FirstRank) : (1, i);
            }
        }

        return votes.Count == 0 ? null : votes.OrderByDescending(v => v.Value.Votes).ThenBy(v => v.Value.FirstRank).First().Key;
    }

    private static Estimate MeanWithInterval(double[] values)
    {
        double mean = values.Average();
        double variance = values.Length > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) : 0;
        double half = Z95 * Math.Sqrt(variance / values.Length);
        return new Estimate(mean, Math.Max(0, mean - half), Math.Min(1, mean + half));
    }

    private static Estimate Wilson(int successes, int trials)
    {
        double p = (double)successes / trials;
        double z2 = Z95 * Z95;
        double denominator = 1 + (z2 / trials);
        double centre = (p + (z2 / (2 * trials))) / denominator;
        double half = Z95 * Math.Sqrt((p * (1 - p) / trials) + (z2 / (4.0 * trials * trials))) / denominator;
        return new Estimate(p, Math.Max(0, centre - half), Math.Min(1, centre + half));
    }
}
