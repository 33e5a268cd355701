using System.Numerics.Tensors;

namespace LlmKit.Plugins.Moderation.Classification;

/// <summary>
/// A binary logistic-regression model with Platt-calibrated probabilities: P(y=1 | x) = σ(a·(w·x + b) + c).
/// Immutable after training; thread-safe.
/// </summary>
public sealed class LogisticRegression
{
    private static readonly double[] PenaltyGrid = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1];
    private readonly float[] _weights;
    private readonly double _bias;
    private readonly double _plattScale;
    private readonly double _plattOffset;

    private LogisticRegression(float[] weights, double bias, double plattScale, double plattOffset, double penalty)
    {
        _weights = weights;
        _bias = bias;
        _plattScale = plattScale;
        _plattOffset = plattOffset;
        L2Penalty = penalty;
    }

    /// <summary>The number of features the model takes.</summary>
    public int Dimensions => _weights.Length;

    /// <summary>The L2 penalty the model was trained with (chosen by cross-validation when 0 was asked).</summary>
    public double L2Penalty { get; }

    /// <summary>
    /// Trains on <paramref name="features"/> with labels <paramref name="labels"/> (true = positive class). Classes are
    /// weighted to count equally. With at least five examples per class, out-of-fold decision values (5-fold) choose the
    /// penalty (when <paramref name="l2Penalty"/> is 0) and fit the Platt calibration; otherwise the raw model is used.
    /// </summary>
    /// <param name="features">One vector per example, all of the same length.</param>
    /// <param name="labels">One label per example; both classes must occur.</param>
    /// <param name="l2Penalty">The L2 penalty, or 0 to choose it by cross-validation.</param>
    /// <param name="seed">Seed of the fold assignment.</param>
    /// <param name="cancellationToken">Cancels training.</param>
    /// <exception cref="ArgumentException">The inputs are empty, of different lengths, ragged, or hold one class only.</exception>
    public static LogisticRegression Train(IReadOnlyList<float[]> features, IReadOnlyList<bool> labels, double l2Penalty = 0, int seed = 17, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        if (features.Count == 0 || features.Count != labels.Count)
        {
            throw new ArgumentException($"Need one label per feature vector and at least one example: {features.Count} vectors, {labels.Count} labels.", nameof(labels));
        }

        int dims = features[0].Length;
        int positives = 0;
        for (int i = 0; i < features.Count; i++)
        {
            if (features[i] is null || features[i].Length != dims)
            {
                throw new ArgumentException($"Feature vector {i} has length {features[i]?.Length ?? 0}; expected {dims} like the first.", nameof(features));
            }

            positives += labels[i] ? 1 : 0;
        }

        int negatives = features.Count - positives;
        if (positives == 0 || negatives == 0)
        {
            throw new ArgumentException($"Both classes must occur in the training data: {positives} positive and {negatives} negative examples.", nameof(labels));
        }

        if (!(l2Penalty >= 0 && double.IsFinite(l2Penalty)))
        {
            throw new ArgumentOutOfRangeException(nameof(l2Penalty), l2Penalty, "l2Penalty must be a finite number >= 0 (0 chooses it by cross-validation).");
        }

        bool canValidate = Math.Min(positives, negatives) >= 5;
        if (!canValidate)
        {
            double penalty = l2Penalty > 0 ? l2Penalty : 1e-2;
            var (w, b) = Fit(features, labels, AllIndices(features.Count), penalty, cancellationToken);
            return new LogisticRegression(w, b, 1, 0, penalty);
        }

        int[] folds = AssignFolds(labels, 5, seed);
        double chosen = l2Penalty;
        double[]? bestScores = null;
        if (chosen == 0)
        {
            double bestLoss = double.PositiveInfinity;
            foreach (double candidate in PenaltyGrid)
            {
                var scores = OutOfFoldScores(features, labels, folds, candidate, cancellationToken);
                double loss = LogLoss(scores, labels, 1, 0);
                if (loss < bestLoss)
                {
                    bestLoss = loss;
                    chosen = candidate;
                    bestScores = scores;
                }
            }
        }

        bestScores ??= OutOfFoldScores(features, labels, folds, chosen, cancellationToken);
        var (scale, offset) = FitPlatt(bestScores, labels);
        var (weights, bias) = Fit(features, labels, AllIndices(features.Count), chosen, cancellationToken);
        return new LogisticRegression(weights, bias, scale, offset, chosen);
    }

    /// <summary>The uncalibrated decision value w·x + b.</summary>
    /// <param name="features">A vector of <see cref="Dimensions"/> values.</param>
    public double DecisionValue(ReadOnlySpan<float> features)
    {
        if (features.Length != _weights.Length)
        {
            throw new ArgumentException($"Expected {_weights.Length} features, got {features.Length}.", nameof(features));
        }

        return TensorPrimitives.Dot(_weights, features) + _bias;
    }

    /// <summary>The calibrated probability of the positive class.</summary>
    /// <param name="features">A vector of <see cref="Dimensions"/> values.</param>
    public double Probability(ReadOnlySpan<float> features) => Sigmoid((_plattScale * DecisionValue(features)) + _plattOffset);

    internal static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>Fits P(y) = σ(a·s + c) to scores by Newton's method (a one-feature logistic regression, lightly regularised).</summary>
    internal static (double Scale, double Offset) FitPlatt(IReadOnlyList<double> scores, IReadOnlyList<bool> labels)
    {
        // Platt's smoothed targets keep the fit finite on separable scores.
        int positives = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            positives += labels[i] ? 1 : 0;
        }

        int negatives = labels.Count - positives;
        double hi = (positives + 1.0) / (positives + 2.0), lo = 1.0 / (negatives + 2.0);
        double a = 1, c = 0;
        for (int iteration = 0; iteration < 100; iteration++)
        {
            double ga = 0, gc = 0, haa = 1e-6, hac = 0, hcc = 1e-6;
            for (int i = 0; i < scores.Count; i++)
            {
                double p = Sigmoid((a * scores[i]) + c);
                double t = labels[i] ? hi : lo;
                double d = p - t, w = p * (1 - p);
                ga += d * scores[i];
                gc += d;
                haa += w * scores[i] * scores[i];
                hac += w * scores[i];
                hcc += w;
            }

            double det = (haa * hcc) - (hac * hac);
            if (Math.Abs(det) < 1e-12)
            {
                break;
            }

            double da = ((hcc * ga) - (hac * gc)) / det, dc = ((haa * gc) - (hac * ga)) / det;

            // Newton's full step can overshoot far from the optimum: halve it until the loss goes down.
            double before = PlattLoss(scores, labels, a, c, hi, lo);
            double fraction = 1;
            while (fraction > 1e-6 && PlattLoss(scores, labels, a - (fraction * da), c - (fraction * dc), hi, lo) > before)
            {
                fraction /= 2;
            }

            a -= fraction * da;
            c -= fraction * dc;
            if (fraction * (Math.Abs(da) + Math.Abs(dc)) < 1e-9)
            {
                break;
            }
        }

        return double.IsFinite(a) && double.IsFinite(c) ? (a, c) : (1, 0);
    }

    private static double PlattLoss(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, double a, double c, double hi, double lo)
    {
        double loss = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            double z = (a * scores[i]) + c, t = labels[i] ? hi : lo;

            // −[t·log σ(z) + (1−t)·log(1−σ(z))] written with softplus to stay finite for large |z|.
            loss += (t * Softplus(-z)) + ((1 - t) * Softplus(z));
        }

        return loss;
    }

    private static double Softplus(double z) => z > 30 ? z : double.LogP1(Math.Exp(z));

    private static double[] OutOfFoldScores(IReadOnlyList<float[]> features, IReadOnlyList<bool> labels, int[] folds, double penalty, CancellationToken cancellationToken)
    {
        var scores = new double[features.Count];
        int foldCount = folds.Max() + 1;
        for (int fold = 0; fold < foldCount; fold++)
        {
            var train = new List<int>();
            for (int i = 0; i < folds.Length; i++)
            {
                if (folds[i] != fold)
                {
                    train.Add(i);
                }
            }

            var (w, b) = Fit(features, labels, train, penalty, cancellationToken);
            for (int i = 0; i < folds.Length; i++)
            {
                if (folds[i] == fold)
                {
                    scores[i] = TensorPrimitives.Dot(w, features[i]) + b;
                }
            }
        }

        return scores;
    }

    /// <summary>Class-balanced, L2-penalised logistic loss minimised by Nesterov-accelerated gradient descent.</summary>
    private static (float[] Weights, double Bias) Fit(IReadOnlyList<float[]> features, IReadOnlyList<bool> labels, IReadOnlyList<int> rows, double penalty, CancellationToken cancellationToken)
    {
        int dims = features[0].Length;
        int positives = 0;
        double maxSquaredNorm = 0;
        foreach (int i in rows)
        {
            positives += labels[i] ? 1 : 0;
            maxSquaredNorm = Math.Max(maxSquaredNorm, TensorPrimitives.Dot(features[i], features[i]));
        }

        int negatives = rows.Count - positives;
        double positiveWeight = positives == 0 ? 0 : rows.Count / (2.0 * positives);
        double negativeWeight = negatives == 0 ? 0 : rows.Count / (2.0 * negatives);

        // The loss's gradient is L-Lipschitz with L <= max class weight · (max‖x‖² + 1)/4 (the 1 for the bias) + penalty.
        double lipschitz = (Math.Max(positiveWeight, negativeWeight) * (maxSquaredNorm + 1) / 4) + penalty;
        float step = (float)(1 / lipschitz);

        // Hashed text embeddings are mostly zeros: keep each row's non-zeros so an epoch costs O(non-zeros), not O(n·d).
        var sparse = new SparseRow[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            sparse[r] = SparseRow.From(features[rows[r]], labels[rows[r]] ? positiveWeight : negativeWeight, labels[rows[r]]);
        }

        var weights = new float[dims];
        var previous = new float[dims];
        var lookahead = new float[dims];
        var gradient = new float[dims];
        double bias = 0, previousBias = 0;
        for (int iteration = 1; iteration <= 400; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            float momentum = (iteration - 1f) / (iteration + 2f);

            // lookahead = w + momentum·(w − previous)
            TensorPrimitives.Subtract(weights, previous, lookahead);
            TensorPrimitives.MultiplyAdd(lookahead, momentum, weights, lookahead);
            double lookaheadBias = bias + (momentum * (bias - previousBias));

            // gradient = penalty·lookahead + Σ weight·(p − y)·x / n
            TensorPrimitives.Multiply(lookahead, (float)penalty, gradient);
            double biasGradient = 0;
            foreach (var row in sparse)
            {
                double p = Sigmoid(row.Dot(lookahead) + lookaheadBias);
                double residual = row.Weight * (p - (row.Label ? 1 : 0)) / rows.Count;
                row.AddTo(gradient, (float)residual);
                biasGradient += residual;
            }

            Array.Copy(weights, previous, dims);
            previousBias = bias;
            TensorPrimitives.MultiplyAdd(gradient, -step, lookahead, weights);
            bias = lookaheadBias - (step * biasGradient);
        }

        return (weights, bias);
    }

    /// <summary>One training row as its non-zero entries (dense rows keep every entry; the arithmetic is the same).</summary>
    private readonly struct SparseRow(int[] indices, float[] values, double weight, bool label)
    {
        public double Weight { get; } = weight;

        public bool Label { get; } = label;

        public static SparseRow From(float[] dense, double weight, bool label)
        {
            int count = 0;
            foreach (float v in dense)
            {
                count += v != 0 ? 1 : 0;
            }

            var indices = new int[count];
            var values = new float[count];
            for (int i = 0, k = 0; i < dense.Length; i++)
            {
                if (dense[i] != 0)
                {
                    indices[k] = i;
                    values[k++] = dense[i];
                }
            }

            return new SparseRow(indices, values, weight, label);
        }

        public double Dot(float[] dense)
        {
            double sum = 0;
            for (int k = 0; k < indices.Length; k++)
            {
                sum += values[k] * dense[indices[k]];
            }

            return sum;
        }

        public void AddTo(float[] dense, float scale)
        {
            for (int k = 0; k < indices.Length; k++)
            {
                dense[indices[k]] += scale * values[k];
            }
        }
    }

    private static double LogLoss(IReadOnlyList<double> scores, IReadOnlyList<bool> labels, double a, double c)
    {
        double loss = 0;
        for (int i = 0; i < scores.Count; i++)
        {
            double p = Math.Clamp(Sigmoid((a * scores[i]) + c), 1e-12, 1 - 1e-12);
            loss -= labels[i] ? Math.Log(p) : Math.Log(1 - p);
        }

        return loss / scores.Count;
    }

    private static int[] AssignFolds(IReadOnlyList<bool> labels, int foldCount, int seed)
    {
        // Stratified: deal each class's shuffled indices round-robin over the folds.
        var random = new Random(seed);
        var folds = new int[labels.Count];
        foreach (bool label in new[] { true, false })
        {
            var indices = new List<int>();
            for (int i = 0; i < labels.Count; i++)
            {
                if (labels[i] == label)
                {
                    indices.Add(i);
                }
            }

            var shuffled = indices.ToArray();
            random.Shuffle(shuffled);
            for (int k = 0; k < shuffled.Length; k++)
            {
                folds[shuffled[k]] = k % foldCount;
            }
        }

        return folds;
    }

    private static int[] AllIndices(int count)
    {
        var all = new int[count];
        for (int i = 0; i < count; i++)
        {
            all[i] = i;
        }

        return all;
    }
}
