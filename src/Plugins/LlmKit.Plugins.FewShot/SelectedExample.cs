namespace LlmKit.Plugins.FewShot;

/// <summary>An example chosen by a selector, with the selector's score for it.</summary>
/// <param name="Example">The chosen example.</param>
/// <param name="Score">
/// The selector's score (higher is better); its scale depends on the selector: cosine similarity,
/// MMR objective, BM25, reciprocal-rank-fusion score, or 0 for random selection.
/// </param>
public sealed record SelectedExample(FewShotExample Example, double Score);
