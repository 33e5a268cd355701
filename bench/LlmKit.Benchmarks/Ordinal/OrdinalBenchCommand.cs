using System.Diagnostics;
using System.Globalization;
using LlmKit.Plugins.Ordinal;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Metrics;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Benchmarks.Ordinal;

/// <summary>
/// <c>ordinal --csv FILE [--label-column N] [--no-header] [--test-fraction 0.2] [--seeds 5] [--epochs 100] [--hidden 16]</c>:
/// seeded train/test splits of a numeric CSV; CORAL, CORN and cumulative-link heads against multinomial logistic
/// regression and rounded least squares, all measured in the same run on the same splits.
/// </summary>
internal sealed class OrdinalBenchCommand : IBenchCommand
{
    public string Name => "ordinal";

    public string Summary => "ordinal heads vs softmax and least-squares baselines on a CSV (--csv FILE [--no-header] [--seeds 5])";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        string? csv = null;
        int? labelColumn = null;
        bool header = true;
        double testFraction = 0.2;
        int seeds = 5, epochs = 100, hidden = 16;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--csv": csv = args[++i]; break;
                case "--label-column": labelColumn = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--no-header": header = false; break;
                case "--test-fraction": testFraction = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seeds": seeds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--epochs": epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--hidden": hidden = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'");
                    return Task.FromResult(2);
            }
        }

        if (csv is null || testFraction is <= 0 or >= 1 || seeds < 1)
        {
            Console.Error.WriteLine("usage: ordinal --csv FILE [--label-column N] [--no-header] [--test-fraction 0.2] [--seeds 5] [--epochs 100] [--hidden 16]");
            return Task.FromResult(2);
        }

        var data = CsvOrdinalData.Load(csv, labelColumn, header, Console.Error);
        Console.WriteLine($"{Path.GetFileName(csv)}: {data.RowCount} rows, {data.ColumnCount} features, ranks {string.Join(" ", data.LabelNames)}; " +
                          $"test fraction {testFraction}, seeds 1..{seeds}, epochs <= {epochs} (early stopping on 10% of the training split)");

        var models = new List<(string Name, Func<Split, int, (int[] Predicted, double Ms)> Run)>
        {
            ("CORAL", (s, seed) => Head(s, seed, OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 0, epochs)),
            ("CORN", (s, seed) => Head(s, seed, OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, 0, epochs)),
            ("cumulative logit", (s, seed) => Head(s, seed, OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Logit, 0, epochs)),
            ("cumulative probit", (s, seed) => Head(s, seed, OrdinalHeadKind.CumulativeLink, CumulativeLinkFunction.Probit, 0, epochs)),
        };
        if (hidden > 0)
        {
            models.Add(($"CORAL + hidden {hidden}", (s, seed) => Head(s, seed, OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, hidden, epochs)));
            models.Add(($"CORN + hidden {hidden}", (s, seed) => Head(s, seed, OrdinalHeadKind.Corn, CumulativeLinkFunction.Logit, hidden, epochs)));
        }

        models.Add(("baseline: multinomial logistic", (s, seed) => Baseline(s, (x, y) => MultinomialLogisticRegression.Train(x, y, s.Train.ColumnCount, s.Train.RankCount, Options(OrdinalHeadKind.Coral, CumulativeLinkFunction.Logit, 0, epochs, seed)))));
        models.Add(("baseline: least squares, rounded", (s, seed) => Baseline(s, (x, y) => LeastSquaresRegression.Train(x, y, s.Train.ColumnCount, s.Train.RankCount))));

        var results = models.ToDictionary(m => m.Name, _ => new List<OrdinalEvaluation>());
        var times = models.ToDictionary(m => m.Name, _ => new List<double>());
        for (int seed = 1; seed <= seeds; seed++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var split = Split.Make(data, testFraction, seed);
            foreach (var (name, run) in models)
            {
                var (predicted, ms) = run(split, seed);
                results[name].Add(OrdinalMetrics.Evaluate(split.Test.Labels, predicted, data.RankCount));
                times[name].Add(ms);
            }

            Console.Error.WriteLine($"seed {seed} done");
        }

        Console.WriteLine();
        Console.WriteLine("| model | MAE | RMSE | accuracy | QWK | training ms |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var (name, _) in models)
        {
            var r = results[name];
            Console.WriteLine($"| {name} | {Stat(r.Select(e => e.MeanAbsoluteError))} | {Stat(r.Select(e => e.RootMeanSquaredError))} | " +
                              $"{Stat(r.Select(e => e.Accuracy))} | {Stat(r.Select(e => e.QuadraticWeightedKappa))} | {Stat(times[name], "F0")} |");
        }

        Console.WriteLine();
        Console.WriteLine("mean ± sample sd over seeds; every model sees the same splits in the same run.");

        // Paired differences remove the split-to-split variance that dominates the sd above.
        const string reference = "baseline: multinomial logistic";
        Console.WriteLine();
        Console.WriteLine($"Paired differences against '{reference}' (same split; negative ΔMAE and positive ΔQWK favour the model):");
        Console.WriteLine();
        Console.WriteLine("| model | ΔMAE | seeds with lower MAE | ΔQWK | seeds with higher QWK |");
        Console.WriteLine("| --- | --- | --- | --- | --- |");
        foreach (var (name, _) in models)
        {
            if (name == reference)
            {
                continue;
            }

            var r = results[name];
            var b = results[reference];
            var dMae = r.Select((e, i) => e.MeanAbsoluteError - b[i].MeanAbsoluteError).ToList();
            var dQwk = r.Select((e, i) => e.QuadraticWeightedKappa - b[i].QuadraticWeightedKappa).ToList();
            Console.WriteLine($"| {name} | {Stat(dMae)} | {dMae.Count(d => d < 0)}/{seeds} | {Stat(dQwk)} | {dQwk.Count(d => d > 0)}/{seeds} |");
        }
        return Task.FromResult(0);
    }

    private static OrdinalTrainerOptions Options(OrdinalHeadKind kind, CumulativeLinkFunction link, int hidden, int epochs, int seed) =>
        new() { Head = kind, Link = link, HiddenUnits = hidden, Epochs = epochs, Seed = seed };

    private static (int[] Predicted, double Ms) Head(Split split, int seed, OrdinalHeadKind kind, CumulativeLinkFunction link, int hidden, int epochs)
    {
        var stopwatch = Stopwatch.StartNew();
        OrdinalModel model = new OrdinalTrainer(Options(kind, link, hidden, epochs, seed)).Train(split.Train).Model;
        double ms = stopwatch.Elapsed.TotalMilliseconds;
        return (model.PredictRanks(split.Test), ms);
    }

    private static (int[] Predicted, double Ms) Baseline(Split split, Func<float[], int[], IBaseline> train)
    {
        var stopwatch = Stopwatch.StartNew();
        // Baselines get the same treatment as the heads: standardisation fitted on the training split only.
        var standardizer = FeatureStandardizer.Fit(split.Train);
        var (x, y) = Standardize(split.Train, standardizer);
        var model = train(x, y);
        double ms = stopwatch.Elapsed.TotalMilliseconds;

        var (testX, _) = Standardize(split.Test, standardizer);
        int d = split.Test.ColumnCount;
        var predicted = new int[split.Test.RowCount];
        for (int r = 0; r < predicted.Length; r++)
        {
            predicted[r] = model.Predict(testX.AsSpan(r * d, d));
        }

        return (predicted, ms);
    }

    private static (float[] X, int[] Y) Standardize(OrdinalDataset data, FeatureStandardizer standardizer)
    {
        int d = data.ColumnCount;
        var x = new float[data.RowCount * d];
        for (int r = 0; r < data.RowCount; r++)
        {
            standardizer.Transform(data.GetRow(r), x.AsSpan(r * d, d));
        }

        return (x, data.Labels.ToArray());
    }

    private static string Stat(IEnumerable<double> values, string format = "F3")
    {
        var list = values.ToList();
        double mean = list.Average();
        double sd = list.Count > 1 ? Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1)) : 0;
        return $"{mean.ToString(format, CultureInfo.InvariantCulture)} ± {sd.ToString(format, CultureInfo.InvariantCulture)}";
    }

    private sealed record Split(OrdinalDataset Train, OrdinalDataset Test)
    {
        public static Split Make(OrdinalDataset data, double testFraction, int seed)
        {
            var order = Enumerable.Range(0, data.RowCount).ToArray();
            new Random(seed).Shuffle(order);
            int testCount = (int)Math.Round(data.RowCount * testFraction);
            return new Split(data.Subset(order[testCount..]), data.Subset(order[..testCount]));
        }
    }
}
