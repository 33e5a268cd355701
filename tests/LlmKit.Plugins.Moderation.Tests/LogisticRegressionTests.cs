using LlmKit.Plugins.Moderation.Classification;

namespace LlmKit.Plugins.Moderation.Tests;

public sealed class LogisticRegressionTests
{
    /// <summary>Samples from a known logistic model P(y=1|x) = σ(3·x0 − 2·x1 + 0.5) with x ~ N(0, 1)².</summary>
    private static (List<float[]> X, List<bool> Y, List<double> TrueP) KnownModel(int count, int seed)
    {
        var random = new Random(seed);
        var x = new List<float[]>();
        var y = new List<bool>();
        var p = new List<double>();
        for (int i = 0; i < count; i++)
        {
            float a = (float)Gaussian(random), b = (float)Gaussian(random);
            double truth = 1 / (1 + Math.Exp(-((3 * a) - (2 * b) + 0.5)));
            x.Add([a, b]);
            p.Add(truth);
            y.Add(random.NextDouble() < truth);
        }

        return (x, y, p);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    [Fact]
    public void Learns_the_direction_and_gives_calibrated_probabilities()
    {
        var (x, y, _) = KnownModel(2000, seed: 1);
        var model = LogisticRegression.Train(x, y);
        var (testX, testY, truth) = KnownModel(2000, seed: 2);

        // Calibration: in each probability decile the mean prediction matches the observed rate. With ~200 samples
        // per bin the observed rate has a standard error of at most 0.035, so 0.1 is about three standard errors.
        var bins = new (double Predicted, int Positives, int Count)[10];
        double meanAbsoluteError = 0;
        for (int i = 0; i < testX.Count; i++)
        {
            double p = model.Probability(testX[i]);
            meanAbsoluteError += Math.Abs(p - truth[i]) / testX.Count;
            int bin = Math.Min(9, (int)(p * 10));
            bins[bin] = (bins[bin].Predicted + p, bins[bin].Positives + (testY[i] ? 1 : 0), bins[bin].Count + 1);
        }

        foreach (var (predicted, positives, count) in bins.Where(b => b.Count >= 100))
        {
            Assert.InRange((positives / (double)count) - (predicted / count), -0.1, 0.1);
        }

        // Against the generating probabilities: 2,000 samples pin a 3-parameter model to within a few hundredths.
        Assert.True(meanAbsoluteError < 0.05, $"mean |p − p_true| = {meanAbsoluteError:0.000}");
    }

    [Fact]
    public void Separates_separable_classes()
    {
        var x = new List<float[]>();
        var y = new List<bool>();
        for (int i = 0; i < 40; i++)
        {
            x.Add([1 + (i * 0.01f), 0]);
            y.Add(true);
            x.Add([-1 - (i * 0.01f), 0]);
            y.Add(false);
        }

        var model = LogisticRegression.Train(x, y);
        Assert.True(model.Probability([1f, 0]) > 0.9);
        Assert.True(model.Probability([-1f, 0]) < 0.1);
        Assert.True(model.L2Penalty > 0);
    }

    [Fact]
    public void Bad_training_data_is_rejected_with_the_parameter_named()
    {
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => LogisticRegression.Train([[1f]], [true])).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => LogisticRegression.Train([[1f], [2f]], [true])).ParamName);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => LogisticRegression.Train([[1f], [2f, 3f]], [true, false])).ParamName);
        Assert.Equal("l2Penalty", Assert.Throws<ArgumentOutOfRangeException>(() => LogisticRegression.Train([[1f], [2f]], [true, false], -1)).ParamName);
        var model = LogisticRegression.Train([[1f], [-1f]], [true, false]);
        Assert.Equal("features", Assert.Throws<ArgumentException>(() => model.Probability([1f, 2f])).ParamName);
    }
}
