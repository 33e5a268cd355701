using System.Numerics.Tensors;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Benchmarks.Ordinal;

/// <summary>A baseline model: rank predictions for standardised feature rows.</summary>
internal interface IBaseline
{
    int Predict(ReadOnlySpan<float> standardized);
}

/// <summary>
/// Multinomial logistic regression (softmax over K classes, ignoring order), trained with the same mini-batch Adam,
/// L2, epochs, validation split and early stopping as the ordinal heads so the comparison is like for like.
/// </summary>
internal sealed class MultinomialLogisticRegression : IBaseline
{
    private readonly float[] _weights; // K × D
    private readonly float[] _biases;  // K
    private readonly int _classes;
    private readonly int _inputs;

    private MultinomialLogisticRegression(int classes, int inputs)
    {
        _classes = classes;
        _inputs = inputs;
        _weights = new float[classes * inputs];
        _biases = new float[classes];
    }

    public static MultinomialLogisticRegression Train(float[] x, int[] y, int inputs, int classes, OrdinalTrainerOptions options)
    {
        var random = new Random(options.Seed);
        int rows = y.Length;
        var order = Enumerable.Range(0, rows).ToArray();
        random.Shuffle(order);
        int validationCount = (int)Math.Round(rows * (double)options.ValidationFraction);
        var validation = order[..validationCount];
        var train = order[validationCount..];

        var model = new MultinomialLogisticRegression(classes, inputs);
        var gradW = new float[model._weights.Length];
        var gradB = new float[classes];
        var mW = new float[gradW.Length];
        var vW = new float[gradW.Length];
        var mB = new float[classes];
        var vB = new float[classes];
        var probabilities = new float[classes];
        float[]? bestW = null, bestB = null;
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, step = 0;

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            random.Shuffle(train);
            for (int start = 0; start < train.Length; start += options.BatchSize)
            {
                int end = Math.Min(start + options.BatchSize, train.Length);
                Array.Clear(gradW);
                Array.Clear(gradB);
                for (int i = start; i < end; i++)
                {
                    var row = x.AsSpan(train[i] * inputs, inputs);
                    model.Probabilities(row, probabilities);
                    for (int k = 0; k < classes; k++)
                    {
                        float g = probabilities[k] - (y[train[i]] == k ? 1f : 0f);
                        var gw = gradW.AsSpan(k * inputs, inputs);
                        TensorPrimitives.MultiplyAdd(row, g, gw, gw);
                        gradB[k] += g;
                    }
                }

                float inverse = 1f / (end - start);
                TensorPrimitives.Multiply(gradW, inverse, gradW);
                TensorPrimitives.Multiply(gradB, inverse, gradB);
                TensorPrimitives.MultiplyAdd(model._weights, options.L2, gradW, gradW);
                step++;
                Adam(model._weights, gradW, mW, vW, options, step);
                Adam(model._biases, gradB, mB, vB, options, step);
            }

            if (validation.Length == 0)
            {
                continue;
            }

            double loss = 0;
            foreach (int r in validation)
            {
                model.Probabilities(x.AsSpan(r * inputs, inputs), probabilities);
                loss -= Math.Log(Math.Max(probabilities[y[r]], 1e-15f));
            }

            if (loss < bestLoss)
            {
                bestLoss = loss;
                bestEpoch = epoch;
                bestW = (float[])model._weights.Clone();
                bestB = (float[])model._biases.Clone();
            }
            else if (epoch - bestEpoch >= options.Patience)
            {
                break;
            }
        }

        bestW?.CopyTo(model._weights, 0);
        bestB?.CopyTo(model._biases, 0);
        return model;
    }

    public int Predict(ReadOnlySpan<float> standardized)
    {
        Span<float> p = stackalloc float[_classes];
        Probabilities(standardized, p);
        return TensorPrimitives.IndexOfMax(p);
    }

    private void Probabilities(ReadOnlySpan<float> row, Span<float> destination)
    {
        for (int k = 0; k < _classes; k++)
        {
            destination[k] = TensorPrimitives.Dot(_weights.AsSpan(k * _inputs, _inputs), row) + _biases[k];
        }

        TensorPrimitives.SoftMax(destination, destination);
    }

    private static void Adam(float[] p, float[] g, float[] m, float[] v, OrdinalTrainerOptions o, int step)
    {
        double c1 = 1 - Math.Pow(o.Beta1, step), c2 = 1 - Math.Pow(o.Beta2, step);
        for (int i = 0; i < p.Length; i++)
        {
            m[i] = o.Beta1 * m[i] + (1 - o.Beta1) * g[i];
            v[i] = o.Beta2 * v[i] + (1 - o.Beta2) * g[i] * g[i];
            p[i] -= (float)(o.LearningRate * (m[i] / c1) / (Math.Sqrt(v[i] / c2) + 1e-8));
        }
    }
}

/// <summary>Least-squares linear regression of the rank on the features (normal equations), rounded and clipped to the scale.</summary>
internal sealed class LeastSquaresRegression : IBaseline
{
    private readonly double[] _coefficients; // D weights then the intercept
    private readonly int _maxRank;

    private LeastSquaresRegression(double[] coefficients, int maxRank)
    {
        _coefficients = coefficients;
        _maxRank = maxRank;
    }

    public static LeastSquaresRegression Train(float[] x, int[] y, int inputs, int rankCount)
    {
        int n = inputs + 1;
        var a = new double[n, n];
        var b = new double[n];
        var row = new double[n];
        for (int r = 0; r < y.Length; r++)
        {
            for (int c = 0; c < inputs; c++)
            {
                row[c] = x[r * inputs + c];
            }

            row[inputs] = 1;
            for (int i = 0; i < n; i++)
            {
                b[i] += row[i] * y[r];
                for (int j = 0; j < n; j++)
                {
                    a[i, j] += row[i] * row[j];
                }
            }
        }

        // A 1e-8 ridge keeps the system solvable when a column is constant; it does not move a well-posed solution.
        for (int i = 0; i < n; i++)
        {
            a[i, i] += 1e-8;
        }

        return new LeastSquaresRegression(Solve(a, b), rankCount - 1);
    }

    public int Predict(ReadOnlySpan<float> standardized)
    {
        double value = _coefficients[^1];
        for (int c = 0; c < standardized.Length; c++)
        {
            value += _coefficients[c] * standardized[c];
        }

        return Math.Clamp((int)Math.Round(value, MidpointRounding.AwayFromZero), 0, _maxRank);
    }

    private static double[] Solve(double[,] a, double[] b)
    {
        // Gaussian elimination with partial pivoting (the system is at most a few hundred wide).
        int n = b.Length;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++)
            {
                if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = r;
                }
            }

            if (pivot != col)
            {
                for (int k = 0; k < n; k++)
                {
                    (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
                }

                (b[col], b[pivot]) = (b[pivot], b[col]);
            }

            for (int r = col + 1; r < n; r++)
            {
                double factor = a[r, col] / a[col, col];
                for (int k = col; k < n; k++)
                {
                    a[r, k] -= factor * a[col, k];
                }

                b[r] -= factor * b[col];
            }
        }

        var solution = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double sum = b[r];
            for (int k = r + 1; k < n; k++)
            {
                sum -= a[r, k] * solution[k];
            }

            solution[r] = sum / a[r, r];
        }

        return solution;
    }
}
