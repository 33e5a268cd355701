using System.Diagnostics;
using System.Numerics.Tensors;
using LlmKit.Plugins.Ordinal.Heads;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>
/// Trains an ordinal head on float feature vectors: mini-batch Adam with L2 on the weights, optional class- and
/// threshold-importance weights, feature standardisation fitted on the training rows only, and early stopping on a
/// seeded validation split. Single-threaded and deterministic: the same data, options and seed give a bit-identical model.
/// </summary>
/// <remarks>An instance holds only its options and logger, so one trainer may run several trainings concurrently.</remarks>
public sealed partial class OrdinalTrainer
{
    private readonly OrdinalTrainerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Training settings; defaults when null. Validated against the data in <see cref="Train"/>.</param>
    /// <param name="logger">Optional logger (one debug line per epoch, one information line per training).</param>
    public OrdinalTrainer(OrdinalTrainerOptions? options = null, ILogger<OrdinalTrainer>? logger = null)
    {
        _options = options ?? new OrdinalTrainerOptions();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The settings this trainer uses.</summary>
    public OrdinalTrainerOptions Options => _options;

    /// <summary>Trains a head on <paramref name="data"/>.</summary>
    /// <param name="data">Labelled rows (already validated: finite features, labels within the declared ranks).</param>
    /// <param name="cancellationToken">Checked before every mini-batch.</param>
    /// <returns>The model and the training history.</returns>
    /// <exception cref="ArgumentException">An option does not fit the data (e.g. class weights of the wrong length), or too few rows remain for training.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its allowed range.</exception>
    /// <exception cref="OperationCanceledException">Cancellation was requested.</exception>
    public OrdinalTrainingResult Train(OrdinalDataset data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var options = _options;
        options.Validate(data.RankCount);
        var stopwatch = Stopwatch.StartNew();
        var random = new Random(options.Seed);

        var (trainRows, validationRows) = Split(data.RowCount, options.ValidationFraction, random);
        var standardizer = options.Standardize ? FeatureStandardizer.Fit(data, trainRows) : null;
        var train = Prepare(data, trainRows, standardizer);
        var validation = validationRows.Length > 0 ? Prepare(data, validationRows, standardizer) : null;

        var head = CreateHead(data.RankCount, data.ColumnCount, options, random);
        head.InitializeThresholds(RankFrequencies(train.Labels, data.RankCount));
        float[] classWeights = NormalizedClassWeights(options.ClassWeights, train.Labels, data.RankCount);
        float[] thresholdWeights = options.ThresholdWeights?.ToArray() ?? [];

        var gradient = new HeadGradient(head);
        var hidden = head.Hidden;
        var adamScores = new AdamOptimizer(head.ScoreWeights.Length, options.Beta1, options.Beta2);
        var adamThresholds = new AdamOptimizer(head.ThresholdParameters.Length, options.Beta1, options.Beta2);
        var adamHiddenWeights = new AdamOptimizer(hidden?.WeightArray.Length ?? 0, options.Beta1, options.Beta2);
        var adamHiddenBiases = new AdamOptimizer(hidden?.BiasArray.Length ?? 0, options.Beta1, options.Beta2);

        var order = new int[train.Rows];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        var trainingLoss = new List<double>();
        var validationLoss = new List<double>();
        ParameterSnapshot? best = null;
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0;
        int step = 0;
        bool stoppedEarly = false;
        int epoch = 0;

        while (epoch < options.Epochs)
        {
            epoch++;
            random.Shuffle(order);
            double epochLoss = 0;
            for (int start = 0; start < order.Length; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int end = Math.Min(start + options.BatchSize, order.Length);
                gradient.Clear();
                for (int i = start; i < end; i++)
                {
                    int row = order[i];
                    int label = train.Labels[row];
                    epochLoss += gradient.Accumulate(train.Row(row), label, classWeights[label], thresholdWeights);
                }

                step++;
                float inverseBatch = 1f / (end - start);
                ApplyStep(head, gradient, inverseBatch, options, step, adamScores, adamThresholds, adamHiddenWeights, adamHiddenBiases);
            }

            trainingLoss.Add(epochLoss / order.Length);
            if (validation is null)
            {
                LogEpoch(_logger, epoch, trainingLoss[^1], double.NaN);
                continue;
            }

            double loss = MeanLoss(gradient, validation, classWeights, thresholdWeights);
            validationLoss.Add(loss);
            LogEpoch(_logger, epoch, trainingLoss[^1], loss);
            if (loss < bestLoss)
            {
                bestLoss = loss;
                bestEpoch = epoch;
                best = ParameterSnapshot.Take(head, best);
            }
            else if (epoch - bestEpoch >= options.Patience)
            {
                stoppedEarly = true;
                break;
            }
        }

        if (best is not null)
        {
            best.Restore(head);
        }
        else
        {
            bestEpoch = epoch;
        }

        stopwatch.Stop();
        LogTrained(_logger, head.Kind, train.Rows, validation?.Rows ?? 0, epoch, bestEpoch, stopwatch.Elapsed.TotalMilliseconds);
        var model = new OrdinalModel(head, data.LabelNames, standardizer);
        return new OrdinalTrainingResult(model, epoch, bestEpoch, stoppedEarly, trainingLoss, validationLoss, train.Rows, validationRows, stopwatch.Elapsed);
    }

    private static void ApplyStep(
        OrdinalHead head, HeadGradient gradient, float inverseBatch, OrdinalTrainerOptions options, int step,
        AdamOptimizer scores, AdamOptimizer thresholds, AdamOptimizer hiddenWeights, AdamOptimizer hiddenBiases)
    {
        // Mean over the batch, plus the L2 term λ·W on weight matrices only.
        TensorPrimitives.Multiply(gradient.ScoreWeights, inverseBatch, gradient.ScoreWeights);
        TensorPrimitives.Multiply(gradient.Thresholds, inverseBatch, gradient.Thresholds);
        if (options.L2 > 0)
        {
            TensorPrimitives.MultiplyAdd(head.ScoreWeights, options.L2, gradient.ScoreWeights, gradient.ScoreWeights);
        }

        scores.Step(head.ScoreWeights, gradient.ScoreWeights, options.LearningRate, step);
        thresholds.Step(head.ThresholdParameters, gradient.Thresholds, options.LearningRate, step);
        head.ProjectThresholds();

        if (head.Hidden is { } hidden)
        {
            TensorPrimitives.Multiply(gradient.HiddenWeights, inverseBatch, gradient.HiddenWeights);
            TensorPrimitives.Multiply(gradient.HiddenBiases, inverseBatch, gradient.HiddenBiases);
            if (options.L2 > 0)
            {
                TensorPrimitives.MultiplyAdd(hidden.WeightArray, options.L2, gradient.HiddenWeights, gradient.HiddenWeights);
            }

            hiddenWeights.Step(hidden.WeightArray, gradient.HiddenWeights, options.LearningRate, step);
            hiddenBiases.Step(hidden.BiasArray, gradient.HiddenBiases, options.LearningRate, step);
        }
    }

    private static double MeanLoss(HeadGradient gradient, PreparedRows rows, float[] classWeights, float[] thresholdWeights)
    {
        double sum = 0;
        for (int row = 0; row < rows.Rows; row++)
        {
            int label = rows.Labels[row];
            sum += gradient.Loss(rows.Row(row), label, classWeights[label], thresholdWeights);
        }

        return sum / rows.Rows;
    }

    internal static OrdinalHead CreateHead(int rankCount, int inputDimension, OrdinalTrainerOptions options, Random random)
    {
        HiddenLayer? hidden = null;
        if (options.HiddenUnits > 0)
        {
            // He-uniform initialisation suits ReLU units; small positive biases keep units alive at the start.
            var weights = new float[options.HiddenUnits * inputDimension];
            float limit = MathF.Sqrt(6f / inputDimension);
            FillUniform(weights, limit, random);
            var biases = new float[options.HiddenUnits];
            Array.Fill(biases, 0.01f);
            hidden = new HiddenLayer(inputDimension, options.HiddenUnits, weights, biases);
        }

        OrdinalHead head = options.Head switch
        {
            OrdinalHeadKind.Coral => new CoralHead(rankCount, inputDimension, hidden),
            OrdinalHeadKind.Corn => new CornHead(rankCount, inputDimension, hidden),
            _ => new CumulativeLinkHead(rankCount, inputDimension, options.Link, hidden),
        };

        if (hidden is not null)
        {
            // A linear head on raw features is convex and starts at zero; behind a hidden layer, random weights break symmetry.
            FillUniform(head.ScoreWeights, MathF.Sqrt(6f / (hidden.Units + head.ScoreCount)), random);
        }

        return head;
    }

    private static void FillUniform(Span<float> values, float limit, Random random)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)((random.NextDouble() * 2.0 - 1.0) * limit);
        }
    }

    private static (int[] Train, int[] Validation) Split(int rows, float validationFraction, Random random)
    {
        var order = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            order[i] = i;
        }

        int validationCount = validationFraction > 0 ? (int)Math.Round(rows * (double)validationFraction) : 0;
        if (validationFraction > 0 && validationCount == 0 && rows >= 2)
        {
            validationCount = 1;
        }

        if (rows - validationCount < 1)
        {
            throw new ArgumentException($"No training rows remain: {rows} rows with validation fraction {validationFraction}.", "data");
        }

        if (validationCount == 0)
        {
            return (order, []);
        }

        random.Shuffle(order);
        var validation = order[..validationCount];
        var train = order[validationCount..];
        // Keep the training rows in their original order so the split alone decides membership.
        Array.Sort(train);
        Array.Sort(validation);
        return (train, validation);
    }

    private static PreparedRows Prepare(OrdinalDataset data, int[] rows, FeatureStandardizer? standardizer)
    {
        int d = data.ColumnCount;
        var matrix = new float[checked(rows.Length * d)];
        var labels = new int[rows.Length];
        var allLabels = data.Labels;
        for (int i = 0; i < rows.Length; i++)
        {
            var destination = matrix.AsSpan(i * d, d);
            if (standardizer is null)
            {
                data.GetRow(rows[i]).CopyTo(destination);
            }
            else
            {
                standardizer.TransformUnchecked(data.GetRow(rows[i]), destination);
            }

            labels[i] = allLabels[rows[i]];
        }

        return new PreparedRows(matrix, labels, d);
    }

    private static double[] RankFrequencies(int[] labels, int rankCount)
    {
        var frequencies = new double[rankCount];
        foreach (int label in labels)
        {
            frequencies[label] += 1.0 / labels.Length;
        }

        return frequencies;
    }

    private static float[] NormalizedClassWeights(IReadOnlyList<float>? classWeights, int[] labels, int rankCount)
    {
        var weights = new float[rankCount];
        if (classWeights is null)
        {
            Array.Fill(weights, 1f);
            return weights;
        }

        double total = 0;
        foreach (int label in labels)
        {
            total += classWeights[label];
        }

        if (total <= 0)
        {
            throw new ArgumentException("ClassWeights give every training row weight 0.", nameof(classWeights));
        }

        // Rescale so the mean example weight is 1: the learning rate then means the same with or without weights.
        double scale = labels.Length / total;
        for (int k = 0; k < rankCount; k++)
        {
            weights[k] = (float)(classWeights[k] * scale);
        }

        return weights;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Ordinal epoch {Epoch}: training loss {TrainingLoss:F5}, validation loss {ValidationLoss:F5}")]
    private static partial void LogEpoch(ILogger logger, int epoch, double trainingLoss, double validationLoss);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Trained {Head} head on {TrainingRows} rows ({ValidationRows} validation) in {Epochs} epochs, best epoch {BestEpoch}, {ElapsedMs:F0} ms")]
    private static partial void LogTrained(ILogger logger, OrdinalHeadKind head, int trainingRows, int validationRows, int epochs, int bestEpoch, double elapsedMs);

    private sealed class PreparedRows(float[] matrix, int[] labels, int columns)
    {
        public int[] Labels { get; } = labels;

        public int Rows => Labels.Length;

        public ReadOnlySpan<float> Row(int row) => matrix.AsSpan(row * columns, columns);
    }

    private sealed class ParameterSnapshot
    {
        private float[] _scores = [];
        private float[] _thresholds = [];
        private float[] _hiddenWeights = [];
        private float[] _hiddenBiases = [];

        public static ParameterSnapshot Take(OrdinalHead head, ParameterSnapshot? reuse)
        {
            var snapshot = reuse ?? new ParameterSnapshot
            {
                _scores = new float[head.ScoreWeights.Length],
                _thresholds = new float[head.ThresholdParameters.Length],
                _hiddenWeights = new float[head.Hidden?.WeightArray.Length ?? 0],
                _hiddenBiases = new float[head.Hidden?.BiasArray.Length ?? 0],
            };
            head.ScoreWeights.CopyTo(snapshot._scores, 0);
            head.ThresholdParameters.CopyTo(snapshot._thresholds, 0);
            head.Hidden?.WeightArray.CopyTo(snapshot._hiddenWeights, 0);
            head.Hidden?.BiasArray.CopyTo(snapshot._hiddenBiases, 0);
            return snapshot;
        }

        public void Restore(OrdinalHead head)
        {
            _scores.CopyTo(head.ScoreWeights, 0);
            _thresholds.CopyTo(head.ThresholdParameters, 0);
            _hiddenWeights.CopyTo(head.Hidden?.WeightArray ?? [], 0);
            _hiddenBiases.CopyTo(head.Hidden?.BiasArray ?? [], 0);
        }
    }
}
