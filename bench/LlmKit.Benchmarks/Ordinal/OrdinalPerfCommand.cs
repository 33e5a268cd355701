using System.Diagnostics;
using System.Globalization;
using LlmKit.Plugins.Ordinal.Heads;
using LlmKit.Plugins.Ordinal.Training;

namespace LlmKit.Benchmarks.Ordinal;

/// <summary>
/// <c>ordinal-perf [--rows 100000] [--dims 768] [--epochs 10] [--batch 32]</c>: trains a CORAL head on synthetic
/// proportional-odds data of the given size and times training and single-example inference.
/// </summary>
internal sealed class OrdinalPerfCommand : IBenchCommand
{
    public string Name => "ordinal-perf";

    public string Summary => "CORAL training time on 100,000 x 768 features (10 epochs) and inference time per example";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        int rows = 100_000, dims = 768, epochs = 10, batch = 32;
        for (int i = 0; i < args.Length; i++)
        {
            int value = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i++])
            {
                case "--rows": rows = value; break;
                case "--dims": dims = value; break;
                case "--epochs": epochs = value; break;
                case "--batch": batch = value; break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i - 1]}'");
                    return Task.FromResult(2);
            }
        }

        var stopwatch = Stopwatch.StartNew();
        var data = MakeData(rows, dims, ranks: 5, seed: 1);
        Console.WriteLine($"generated {rows:N0} x {dims} features in {stopwatch.Elapsed.TotalSeconds:F1} s");

        var options = new OrdinalTrainerOptions { Head = OrdinalHeadKind.Coral, Epochs = epochs, BatchSize = batch, ValidationFraction = 0, Seed = 1 };
        stopwatch.Restart();
        var result = new OrdinalTrainer(options).Train(data, cancellationToken);
        double trainSeconds = stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"CORAL training, {epochs} epochs, batch {batch}: {trainSeconds:F2} s (final training loss {result.TrainingLoss[^1]:F4})");

        var model = result.Model;
        int probes = Math.Min(rows, 20_000);
        Span<float> exceedance = stackalloc float[model.RankCount - 1];
        for (int r = 0; r < Math.Min(probes, 2000); r++)
        {
            model.PredictExceedance(data.GetRow(r), exceedance); // warm-up (tiered JIT)
        }

        stopwatch.Restart();
        int checksum = 0;
        for (int r = 0; r < probes; r++)
        {
            model.PredictExceedance(data.GetRow(r), exceedance);
            checksum += OrdinalPrediction.RankFromExceedance(exceedance);
        }

        double spanMicros = stopwatch.Elapsed.TotalMilliseconds * 1000 / probes;
        stopwatch.Restart();
        for (int r = 0; r < probes; r++)
        {
            checksum += model.Predict(data.GetRow(r)).Rank;
        }

        double predictMicros = stopwatch.Elapsed.TotalMilliseconds * 1000 / probes;
        Console.WriteLine($"inference, {dims}-wide input incl. standardisation and NaN check: PredictExceedance {spanMicros:F2} µs/example, Predict (allocating) {predictMicros:F2} µs/example (checksum {checksum})");
        return Task.FromResult(0);
    }

    private static OrdinalDataset MakeData(int rows, int dims, int ranks, int seed)
    {
        var random = new Random(seed);
        var weights = new float[dims];
        for (int c = 0; c < dims; c++)
        {
            weights[c] = (float)(random.NextDouble() * 2 - 1) / MathF.Sqrt(dims);
        }

        var features = new float[checked(rows * dims)];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = features.AsSpan(r * dims, dims);
            double eta = 0;
            for (int c = 0; c < dims; c++)
            {
                row[c] = (float)(random.NextDouble() * 2 - 1);
                eta += row[c] * weights[c];
            }

            double u = Math.Clamp(random.NextDouble(), 1e-9, 1 - 1e-9);
            double latent = 4 * eta + Math.Log(u / (1 - u));
            labels[r] = Math.Clamp((int)Math.Floor(latent + ranks / 2.0), 0, ranks - 1);
        }

        return new OrdinalDataset(features, dims, labels, OrdinalDataset.DefaultLabelNames(ranks));
    }
}
